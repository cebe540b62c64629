"""The published SR configurations that convert without torch: Real-ESRGAN's and ESRGAN's
RRDBNet (×4 and ×2 with 23 blocks, the ×4 anime model with 6) and Real-ESRGAN's Compact
models (general-x4v3: 32 convolutions, animevideov3: 16), which spandrel reads."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from imagexform.plugin_api import TemplateRecipe
from imagexform_sr.config import SRConfig

if TYPE_CHECKING:
    from torch import Tensor


def rrdbnet_state(scale: int, num_block: int) -> dict[str, Tensor]:
    from imagexform_sr.networks import build_generator

    config = SRConfig(arch="rrdbnet", scale=scale, num_feat=64, num_block=num_block, num_grow_ch=32)
    return build_generator(config).state_dict()


def compact_state(num_conv: int) -> dict[str, Tensor]:
    from spandrel.architectures.Compact import Compact

    net = Compact(num_feat=64, num_conv=num_conv, upscale=4, act_type="prelu")
    return net.state_dict()


def recipes() -> list[TemplateRecipe]:
    return [
        TemplateRecipe("rrdbnet-x4-23", "basicsr", partial(rrdbnet_state, 4, 23)),
        TemplateRecipe("rrdbnet-x2-23", "basicsr", partial(rrdbnet_state, 2, 23)),
        TemplateRecipe("rrdbnet-x4-6", "basicsr", partial(rrdbnet_state, 4, 6)),
        TemplateRecipe("compact-x4-32", "spandrel", partial(compact_state, 32)),
        TemplateRecipe("compact-x4-16", "spandrel", partial(compact_state, 16)),
    ]
