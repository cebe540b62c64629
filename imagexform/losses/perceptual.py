"""Perceptual losses on ImageNet VGG features (Johnson et al. 2016; ESRGAN; style transfer).

The VGG weights are never downloaded here: training must not reach the network at run time.
They come from torchvision's usual cache, where a previous torchvision download left them, or
from a file the user names; when neither exists, training stops before it starts with a
message that says how to provide them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from imagexform.errors import ConfigError

VGGName = Literal["vgg16", "vgg19"]
RANDOM_VGG_ENV = "IMAGEXFORM_TEST_RANDOM_VGG"  # test-only switch: random weights, no file

_WEIGHT_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
_TORCHVISION_CONFIG = {"vgg16": "D", "vgg19": "E"}
_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_indices(arch: VGGName) -> dict[str, int]:
    """torchvision ``features`` index of every named layer: conv3_4, relu3_4, pool3..."""
    names: dict[str, int] = {}
    index = 0
    for block, convs in enumerate(_BLOCKS[arch], start=1):
        for conv in range(1, convs + 1):
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
        names[f"pool{block}"] = index
        index += 1
    return names


def weights_file(arch: VGGName, path: str = "") -> Path:
    """Where the ImageNet weights for ``arch`` are, or a ConfigError saying how to get them."""
    if path:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: VGG weights file not found")
        return candidate
    cached = Path(torch.hub.get_dir()) / "checkpoints" / _WEIGHT_FILES[arch]
    if cached.is_file():
        return cached
    raise ConfigError(
        f"the perceptual loss needs ImageNet {arch} weights, which are not in torchvision's "
        f"cache ({cached}). Download https://download.pytorch.org/models/{_WEIGHT_FILES[arch]} "
        f"to that path (or anywhere and pass --set vgg_weights=PATH), or set the perceptual "
        f"weight to 0"
    )


class VGGFeatures(nn.Module):
    """Frozen VGG up to the deepest requested layer; returns the requested activations on
    images in [0, 1] (normalised to ImageNet statistics inside)."""

    def __init__(self, arch: VGGName, layers: list[str], weights_path: str = "") -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        indices = layer_indices(arch)
        unknown = [layer for layer in layers if layer not in indices]
        if unknown:
            raise ConfigError(f"unknown {arch} layer(s) {unknown}; e.g. conv5_4, relu2_2")
        # only the convolutional part: the classifier would add 120M parameters for nothing
        features = make_layers(cfgs[_TORCHVISION_CONFIG[arch]], batch_norm=False)
        if os.environ.get(RANDOM_VGG_ENV) != "1":
            state = torch.load(
                weights_file(arch, weights_path), map_location="cpu", weights_only=True
            )
            prefix = "features."
            features.load_state_dict(
                {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
            )
        self.wanted = {indices[layer]: layer for layer in layers}
        self.features = features[: max(self.wanted) + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always frozen, whatever the trainer switches

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        x = (images - self.mean) / self.std
        found: dict[str, Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.wanted:
                found[self.wanted[index]] = x
        return found


def parse_layer_weights(text: str) -> dict[str, float]:
    """``"conv1_2:0.1, conv5_4:1"`` -> {"conv1_2": 0.1, "conv5_4": 1.0}."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        layer, _, value = item.partition(":")
        try:
            weights[layer.strip()] = float(value) if value else 1.0
        except ValueError:
            raise ConfigError(f"layer weight {item!r} is not 'layer:number'") from None
    if not weights:
        raise ConfigError("no perceptual layers given")
    return weights


class PerceptualLoss(nn.Module):
    """Weighted L1 between VGG features of output and target (features before activation,
    as ESRGAN found them sharper than after)."""

    def __init__(
        self, layer_weights: dict[str, float], arch: VGGName = "vgg19", weights_path: str = ""
    ) -> None:
        super().__init__()
        self.layer_weights = layer_weights
        self.vgg = VGGFeatures(arch, list(layer_weights), weights_path)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        output_features = self.vgg(output)
        with torch.no_grad():
            target_features = self.vgg(target)
        return sum(
            weight * torch.nn.functional.l1_loss(output_features[layer], target_features[layer])
            for layer, weight in self.layer_weights.items()
        )
