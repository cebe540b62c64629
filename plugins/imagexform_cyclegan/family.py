"""The CycleGAN family: what the core needs to train, save and export it.

Torch-free at import: the host imports this to list families. Torch and the networks load
inside the methods that need them.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import ConfigError, Family, Imported, IOSpec, apply_values
from imagexform_cyclegan.config import GENERATOR_SETTINGS, CycleGANConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


class CycleGANFamily(Family):
    name = "cyclegan"
    summary = "Unpaired image-to-image translation: two generators tied by cycle consistency"
    config_class = CycleGANConfig
    dataset_layout = "unpaired: folders trainA/ and trainB/ (optional valA/ valB/, testA/ testB/)"
    ema_nets = ("G_A", "G_B")
    step_class = "imagexform_cyclegan.step:CycleGANStep"

    def build(self, config: CycleGANConfig) -> dict[str, nn.Module]:
        from imagexform_cyclegan.networks import build_networks

        return build_networks(config)

    def dataset(self, config: CycleGANConfig, root: Path, split: str) -> Dataset | None:
        from imagexform_cyclegan.data import unpaired_dataset_or_none

        return unpaired_dataset_or_none(
            root,
            split,
            load_size=config.load_size,
            crop_size=config.image_size,
            flip=config.flip,
            train=split == "train",
            a_channels=config.input_nc,
            b_channels=config.output_nc,
            serial_batches=config.serial_batches,
        )

    def inference_module(self, config: CycleGANConfig, nets: dict[str, nn.Module]) -> nn.Module:
        return nets["G_A"]

    def variants(self, config: CycleGANConfig) -> dict[str, str]:
        return {"A2B": "G_A", "B2A": "G_B"}

    def adopt(self, imported: Imported) -> Imported | None:
        """A lone junyanz generator (``latest_net_G_A.pth``, the published ``horse2zebra.pth``)
        is one direction of a CycleGAN: it becomes ``G_A`` under the same settings."""
        if set(imported.nets) != {"G"}:
            return None
        given = asdict(imported.config)
        try:
            config = apply_values(
                CycleGANConfig(), {key: given[key] for key in GENERATOR_SETTINGS if key in given}
            )
        except ConfigError:
            return None
        return Imported(
            family=self.name,
            config=config,
            nets={"G_A": imported.nets["G"]},
            description=f"CycleGAN, one direction: {imported.description}",
        )

    def io_spec(self, config: CycleGANConfig) -> IOSpec:
        from imagexform.plugin_api import image_generator_size_multiple

        return IOSpec(
            value_range=(-1.0, 1.0),
            channels=config.input_nc,
            out_channels=config.output_nc,
            size_multiple=image_generator_size_multiple(config.netG),
        )
