"""Pixel operations shared by training, evaluation and inference, torch-free.

Evaluation must compute exactly what the super-resolution literature computes, and the
inference side installs no torch, so these are plain numpy.
"""

from imagexform.imaging.resize import imresize

__all__ = ["imresize"]
