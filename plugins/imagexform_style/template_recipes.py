"""The published style configuration that converts without torch: pytorch/examples'
TransformerNet (candy, mosaic, rain_princess, udnie)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagexform.plugin_api import TemplateRecipe

if TYPE_CHECKING:
    from torch import Tensor


def transformer_net_state() -> dict[str, Tensor]:
    from imagexform_style.networks import TransformerNet

    return TransformerNet().state_dict()


def recipes() -> list[TemplateRecipe]:
    return [TemplateRecipe("transformer-net", "fast-neural-style", transformer_net_state)]
