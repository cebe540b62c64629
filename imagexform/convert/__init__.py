"""Torch-free conversion of published checkpoints to ONNX (issue 18)."""
