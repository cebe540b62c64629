"""The pix2pix family: what the core needs to train, save and export it.

Torch-free at import: the host imports this to list families. Torch and the networks load
inside the methods that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import Family, Importer, IOSpec
from imagexform_pix2pix.config import Pix2PixConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


class Pix2PixFamily(Family):
    name = "pix2pix"
    summary = "Paired image-to-image translation: U-Net/ResNet generator + conditional PatchGAN"
    config_class = Pix2PixConfig
    dataset_layout = (
        "paired: side-by-side A|B images, or folders A/ and B/ with matching names; "
        "optional train/ val/ test/ sub-folders"
    )
    step_class = "imagexform_pix2pix.step:Pix2PixStep"

    def build(self, config: Pix2PixConfig) -> dict[str, nn.Module]:
        from imagexform_pix2pix.networks import build_discriminator, build_generator

        return {"G": build_generator(config), "D": build_discriminator(config)}

    def dataset(self, config: Pix2PixConfig, root: Path, split: str) -> Dataset | None:
        from imagexform.plugin_api import paired_dataset_or_none

        return paired_dataset_or_none(
            root,
            split,
            direction=config.direction,
            load_size=config.load_size,
            crop_size=config.image_size,
            flip=config.flip,
            train=split == "train",
            input_nc=config.input_nc,
            output_nc=config.output_nc,
        )

    def io_spec(self, config: Pix2PixConfig) -> IOSpec:
        from imagexform.plugin_api import image_generator_size_multiple

        return IOSpec(
            value_range=(-1.0, 1.0),
            channels=config.input_nc,
            out_channels=config.output_nc,
            size_multiple=image_generator_size_multiple(config.netG),
        )

    def importers(self) -> list[Importer]:
        from imagexform_pix2pix.importer import JunyanzGeneratorImporter

        return [JunyanzGeneratorImporter()]
