"""StarGAN's generator and two-headed discriminator in yunjey/stargan's parameter layout,
so published ``*-G.ckpt`` / ``*-D.ckpt`` files load strictly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _norm(channels: int, running: bool) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=running)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, running: bool) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels, running),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels, running),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


class Generator(nn.Module):
    """G(image in [-1, 1], attributes N×c_dim) -> image: the target attributes are tiled over
    the image and stacked onto its channels. ``running`` keeps InstanceNorm running averages
    (and uses them in eval mode); without, every image is normalised by its own statistics."""

    def __init__(
        self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6, running: bool = False
    ):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
            _norm(conv_dim, running),
            nn.ReLU(inplace=True),
        ]
        channels = conv_dim
        for _ in range(2):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                _norm(channels * 2, running),
                nn.ReLU(inplace=True),
            ]
            channels *= 2
        layers += [ResidualBlock(channels, running) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                _norm(channels // 2, running),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        layers += [nn.Conv2d(channels, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, image: Tensor, attributes: Tensor) -> Tensor:
        tiled = attributes.to(image.dtype)[:, :, None, None].expand(
            -1, -1, image.shape[2], image.shape[3]
        )
        return self.main(torch.cat([image, tiled], dim=1))


class Discriminator(nn.Module):
    """PatchGAN real/fake logits and attribute logits from one trunk; ``image_size`` fixes the
    classification kernel, so the classifier only reads images of that size."""

    def __init__(
        self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        channels = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            channels *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(channels, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(channels, c_dim, image_size // 2**repeat_num, bias=False)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        hidden = self.main(image)
        return self.conv1(hidden), self.conv2(hidden).flatten(1)


class Classifier(nn.Module):
    """The discriminator's attribute head alone, as probabilities: what the editor uses to
    preset its sliders from a photo. Any photo size is resized to the one the head reads."""

    def __init__(self, discriminator: Discriminator, image_size: int) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.image_size = image_size

    def forward(self, image: Tensor) -> Tensor:
        size = (self.image_size, self.image_size)
        resized = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        return self.discriminator(resized)[1].sigmoid()
