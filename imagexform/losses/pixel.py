"""Pixel losses by name, so a family's config can choose one."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

PixelLossName = Literal["l1", "mse", "charbonnier"]


class CharbonnierLoss(nn.Module):
    """sqrt(d² + ε²): L1's robustness with a smooth minimum (Lai et al. 2017)."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return torch.sqrt((output - target) ** 2 + self.eps**2).mean()


def pixel_loss(name: PixelLossName) -> nn.Module:
    if name == "l1":
        return nn.L1Loss()
    if name == "mse":
        return nn.MSELoss()
    if name == "charbonnier":
        return CharbonnierLoss()
    raise ValueError(f"unknown pixel loss {name!r}; expected l1, mse or charbonnier")


def psnr_db(
    output: Tensor, target: Tensor, value_range: tuple[float, float] = (0.0, 1.0)
) -> Tensor:
    """Mean PSNR in dB over a batch of images in ``value_range`` (the output clamped to it),
    for validation during training; evaluation of exported models uses imagexform.metrics."""
    low, high = value_range
    error = (output.clamp(low, high) - target) / (high - low)
    mse = error.pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean()
