"""The family: what the core needs to train, save and export deblurring models.
Torch-free at import; torch loads inside the methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.family import Family, IOSpec, TrainStep
from imagexform_deblur.config import DeblurConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset

    from imagexform.train.context import TrainContext


class DeblurFamily(Family):
    name = "deblur"
    summary = "Example plugin: sharpen blurred photos"
    config_class = DeblurConfig
    dataset_layout = "paired: blurred|sharp side by side, or folders A/ (blurred) and B/ (sharp)"

    def build(self, config: DeblurConfig) -> dict[str, nn.Module]:
        from imagexform_deblur.network import Sharpener

        return {"G": Sharpener(config.width, config.depth)}

    def dataset(self, config: DeblurConfig, root: Path, split: str) -> Dataset | None:
        # The core's paired data: the same layouts pix2pix reads, crops and flips included.
        from imagexform.data.paired import paired_dataset_or_none

        return paired_dataset_or_none(
            root,
            split,
            crop_size=config.image_size,
            load_size=config.image_size,
            train=split == "train",
        )

    def train_step(
        self, config: DeblurConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> TrainStep:
        from imagexform_deblur.step import DeblurStep

        return DeblurStep(config, nets, context)

    def inference_module(self, config: DeblurConfig, nets: dict[str, nn.Module]) -> nn.Module:
        return nets["G"]

    def io_spec(self, config: DeblurConfig) -> IOSpec:
        return IOSpec(value_range=(-1.0, 1.0))
