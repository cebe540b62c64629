"""The published CycleGAN configuration that converts without torch: junyanz's ResNet-9
generator with instance norm, ngf 64 (horse2zebra, the style_* models and the others),
read by pix2pix's junyanz importer and adopted as one direction of a CycleGAN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagexform.plugin_api import TemplateRecipe

if TYPE_CHECKING:
    from torch import Tensor


def resnet9_state() -> dict[str, Tensor]:
    from imagexform.plugin_api import build_image_generator

    return build_image_generator("resnet_9blocks", 3, 3, 64, "instance", False).state_dict()


def recipes() -> list[TemplateRecipe]:
    return [TemplateRecipe("cyclegan-resnet9", "junyanz", resnet9_state, family="cyclegan")]
