"""The family: what the core needs to train, save and export deblurring models.
Torch-free at import: the step class is named by string and torch loads inside the methods.
The generator ``G`` is what gets exported and averaged (EMA) by default."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import Family, IOSpec
from imagexform_deblur.config import DeblurConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


class DeblurFamily(Family):
    name = "deblur"
    summary = "Example plugin: sharpen blurred photos"
    config_class = DeblurConfig
    dataset_layout = "paired: blurred|sharp side by side, or folders A/ (blurred) and B/ (sharp)"
    step_class = "imagexform_deblur.step:DeblurStep"

    def build(self, config: DeblurConfig) -> dict[str, nn.Module]:
        from imagexform_deblur.network import Sharpener

        return {"G": Sharpener(config.width, config.depth)}

    def dataset(self, config: DeblurConfig, root: Path, split: str) -> Dataset | None:
        # The core's paired data: the same layouts pix2pix reads, crops and flips included.
        from imagexform.plugin_api import paired_dataset_or_none

        size = config.image_size
        return paired_dataset_or_none(
            root, split, crop_size=size, load_size=size, train=split == "train"
        )

    def io_spec(self, config: DeblurConfig) -> IOSpec:
        return IOSpec(value_range=(-1.0, 1.0))
