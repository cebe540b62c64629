"""A stand-in for clean-fid's TorchScript Inception, for tests that cannot download it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyInception(nn.Module):
    """The interface of clean-fid's TorchScript Inception (``layers`` giving N×2048
    features) with a few random convolutions: a real network through the real loader."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(16), nn.Flatten()
        )

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


def tiny_inception_weights(folder: Path) -> Path:
    """The stand-in saved as TorchScript, as ``--feature-weights`` takes the real one."""
    path = folder / "tiny-inception.pt"
    torch.jit.script(TinyInception().eval()).save(str(path))
    return path
