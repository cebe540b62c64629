"""Losses shared by families: adversarial objectives, gradient penalties, pixel losses."""
