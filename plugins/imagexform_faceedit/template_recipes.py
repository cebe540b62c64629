"""The published StarGAN configuration that converts without torch: yunjey/stargan's
generator for CelebA 128×128 with five attributes (conv_dim 64, six residual blocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagexform.plugin_api import TemplateRecipe

if TYPE_CHECKING:
    from torch import Tensor


def stargan_state() -> dict[str, Tensor]:
    from imagexform_faceedit.networks import Generator

    return Generator(64, 5, 6, False).state_dict()


def recipes() -> list[TemplateRecipe]:
    return [TemplateRecipe("stargan-celeba-5", "stargan", stargan_state)]
