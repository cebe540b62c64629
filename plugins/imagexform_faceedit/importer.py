"""Import yunjey/stargan generators (``200000-G.ckpt``): bare state dicts, so the settings
are read off the shapes, and the attribute names come from the user (the published CelebA
model's five by default). Torch-free at import."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from imagexform.plugin_api import Imported, Importer, UserError, apply_text
from imagexform_faceedit.config import FaceEditConfig, attribute_names

_BLOCK = re.compile(r"main\.(\d+)\.main\.0\.weight$")


class StarGANImporter(Importer):
    name = "stargan"
    summary = "StarGAN generator *-G.ckpt from yunjey/stargan"

    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        import torch

        from imagexform.plugin_api import load_published, strip_wrappers
        from imagexform_faceedit.networks import Generator

        state = strip_wrappers(checkpoint)
        first = state.get("main.0.weight")
        if not isinstance(first, torch.Tensor) or first.ndim != 4 or first.shape[2:] != (7, 7):
            return None
        if first.shape[1] <= 3:
            return None
        conv_dim, c_dim = int(first.shape[0]), int(first.shape[1]) - 3
        repeat_num = sum(1 for key in state if _BLOCK.match(key))
        config = apply_text(
            FaceEditConfig(conv_dim=conv_dim, repeat_num=repeat_num), overrides or {}
        )
        names = attribute_names(config)
        if len(names) != c_dim:
            raise UserError(
                f"the generator edits {c_dim} attributes; name them in its order with "
                f"--set attributes=NAME1,...,NAME{c_dim} (and --set groups= for exclusive ones)"
            )
        generator = Generator(conv_dim, c_dim, repeat_num, config.instance_norm_stats == "running")
        load_published(
            generator,
            state,
            f"looks like a StarGAN generator ({c_dim} attributes, conv_dim {conv_dim})",
        )
        return Imported(
            family="faceedit",
            config=config,
            nets={"G": generator.float()},
            description=f"yunjey/stargan generator: {', '.join(names)}",
        )
