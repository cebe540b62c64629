"""A residual stack of 3×3 convolutions: it predicts the detail the blur removed."""

from __future__ import annotations

from torch import Tensor, nn


class Sharpener(nn.Module):
    def __init__(self, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, 3, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, image: Tensor) -> Tensor:
        return image + self.body(image)
