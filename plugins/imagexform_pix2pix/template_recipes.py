"""The published pix2pix configuration that converts without torch: junyanz's U-Net-256
with batch norm, ngf 64 (facades_label2photo, edges2shoes and the other released models)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagexform.plugin_api import TemplateRecipe

if TYPE_CHECKING:
    from torch import Tensor


def unet256_state() -> dict[str, Tensor]:
    from imagexform.plugin_api import build_image_generator

    return build_image_generator("unet_256", 3, 3, 64, "batch", True).state_dict()


def recipes() -> list[TemplateRecipe]:
    return [TemplateRecipe("pix2pix-unet256-batch", "junyanz", unet256_state, family="pix2pix")]
