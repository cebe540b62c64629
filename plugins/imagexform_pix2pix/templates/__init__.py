"""Weightless graph templates (package data) for torch-free conversion; made by
``python -m imagexform.export.templates`` from ``imagexform_pix2pix.template_recipes``."""
