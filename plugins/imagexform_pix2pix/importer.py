"""Import generators saved by the reference pix2pix/CycleGAN code (junyanz).

Those ``latest_net_G*.pth`` files are bare state dicts without their settings; the importer
reads the settings off the layout so that ``imagexform import`` needs no ``--netG``/``--norm``
flags. The module stays torch-free at import time: the host imports it to list importers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagexform.plugin_api import (
    ConfigError,
    Imported,
    Importer,
    UserError,
    apply_text,
    apply_values,
)
from imagexform_pix2pix.config import Pix2PixConfig

_SETTINGS = ("netG", "ngf", "norm", "input_nc", "output_nc")


class JunyanzGeneratorImporter(Importer):
    """A U-Net or ResNet generator from junyanz/pytorch-CycleGAN-and-pix2pix.

    CycleGAN's ``G_A``/``G_B`` are imported too: they are the same generator classes, and as a
    pix2pix model they run unchanged in one direction.
    """

    name = "junyanz"
    summary = "pix2pix/CycleGAN generator .pth from junyanz/pytorch-CycleGAN-and-pix2pix"

    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        from imagexform.plugin_api import patch_instance_norm_state, strip_wrappers
        from imagexform_pix2pix.detect import detect_image_generator, generator_mismatch
        from imagexform_pix2pix.networks import build_generator

        settings = detect_image_generator(checkpoint)
        if settings is None:
            mismatch = generator_mismatch(checkpoint)
            if mismatch is not None:
                raise UserError(mismatch)
            return None
        values: dict[str, Any] = {key: settings[key] for key in _SETTINGS}
        if settings["dropout"] is not None:
            values["dropout"] = settings["dropout"]
        try:
            config = apply_values(Pix2PixConfig(), values)
        except ConfigError:
            # A layout pix2pix's config cannot name (e.g. resnet_12blocks): its checkpoints
            # and exports could not be reloaded, so the file is not ours to take.
            return None
        config = apply_text(config, overrides or {})
        generator = build_generator(config)
        state = patch_instance_norm_state(generator, strip_wrappers(checkpoint))
        try:
            generator.load_state_dict(state, strict=True)
        except RuntimeError:
            assigned = " ".join(f"{key}={text}" for key, text in (overrides or {}).items())
            raise UserError(f"--set {assigned} does not fit this junyanz generator") from None
        norm = "no norm" if config.norm == "none" else f"{config.norm} norm"
        return Imported(
            family="pix2pix",
            config=config,
            nets={"G": generator},
            description=(
                f"junyanz pix2pix/CycleGAN generator ({config.netG}, ngf {config.ngf}, {norm})"
            ),
        )
