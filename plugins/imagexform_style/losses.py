"""Style statistics (Gatys et al. 2016): what a painting's texture is, independent of where
things are in it."""

from __future__ import annotations

from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """N×C×C channel correlations of N×C×H×W features, divided by C·H·W so that layers and
    image sizes weigh alike (the pytorch/examples normalisation). Computed in float32: bf16
    sums over H·W lose the small correlations the loss compares."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def total_variation(images: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels: penalises speckle."""
    return (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().mean() + (
        images[:, :, :, 1:] - images[:, :, :, :-1]
    ).abs().mean()
