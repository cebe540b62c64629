"""The super-resolution family: what the core needs to train, save and export it.

Torch-free at import: the host imports this to list families.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import Family, Importer, IOSpec, TileHints
from imagexform_sr.config import SRConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


class SuperResolutionFamily(Family):
    name = "sr"
    summary = "Super-resolution ×2/×3/×4: SRResNet (SRGAN) or RRDBNet (ESRGAN)"
    config_class = SRConfig
    dataset_layout = (
        "a folder of high-resolution photos (low-resolution made on the fly), or HR/ and LR/ "
        "folders (DIV2K names 0001.png <-> 0001x4.png); optional train/ val/ sub-folders"
    )
    step_class = "imagexform_sr.step:SuperResolutionStep"

    def build(self, config: SRConfig) -> dict[str, nn.Module]:
        from imagexform_sr.networks import build_discriminator, build_generator

        nets = {"G": build_generator(config)}
        if config.gan_weight > 0:  # the PSNR-oriented stage trains no discriminator
            nets["D"] = build_discriminator(config)
        return nets

    def dataset(self, config: SRConfig, root: Path, split: str) -> Dataset | None:
        from imagexform_sr.data import superres_dataset_or_none

        return superres_dataset_or_none(
            root,
            split,
            scale=config.scale,
            gt_size=config.image_size,
            train=split == "train",
            degradation=config.degradation,
        )

    def io_spec(self, config: SRConfig) -> IOSpec:
        from imagexform_sr.networks import size_multiple

        return IOSpec(
            value_range=(0.0, 1.0),
            channels=config.num_in_ch,
            out_channels=config.num_out_ch,
            scale=config.scale,
            size_multiple=size_multiple(config),
        )

    def tile_hints(self, config: SRConfig) -> TileHints:
        # RRDBNet's effective receptive field is wide; 16 LR pixels hides every tile seam
        return TileHints(tile_size=0, overlap=16)

    def importers(self) -> list[Importer]:
        from imagexform_sr.importer import importers

        return importers()
