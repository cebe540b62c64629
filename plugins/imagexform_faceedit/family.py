"""The face-edit family: what the core needs to train, save and export it.

Torch-free at import: the host imports this to list families. Torch and the networks load
inside the methods that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import CLASSIFIER_ROLE, ConditionSpec, Family, Importer, IOSpec
from imagexform_faceedit.config import FaceEditConfig, attribute_groups, attribute_names

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


class FaceEditFamily(Family):
    name = "faceedit"
    summary = "Face attribute editing with one multi-domain generator (StarGAN)"
    config_class = FaceEditConfig
    dataset_layout = (
        "an image folder (or img_align_celeba/, images/) with list_attr_celeba.txt (CelebA) "
        "or attributes.csv (filename,attr1,... with 0/1)"
    )
    step_class = "imagexform_faceedit.step:FaceEditStep"

    def build(self, config: FaceEditConfig) -> dict[str, nn.Module]:
        from imagexform_faceedit.networks import Discriminator, Generator

        c_dim = len(attribute_names(config))
        running = config.instance_norm_stats == "running"
        return {
            "G": Generator(config.conv_dim, c_dim, config.repeat_num, running),
            "D": Discriminator(config.image_size, config.d_conv_dim, c_dim, config.repeat_num),
        }

    def dataset(self, config: FaceEditConfig, root: Path, split: str) -> Dataset | None:
        if split != "train":
            return None
        from imagexform_faceedit.data import FaceDataset

        return FaceDataset(
            Path(root),
            attribute_names(config),
            table=config.attribute_file,
            crop_size=config.crop_size,
            image_size=config.image_size,
            flip=config.flip,
        )

    def variants(self, config: FaceEditConfig) -> dict[str, str]:
        return {"classifier": "classifier"}

    def variant_role(self, config: FaceEditConfig, variant: str) -> str:
        # the editor presets the generator's attribute sliders from what this one sees
        return CLASSIFIER_ROLE if variant == "classifier" else ""

    def export_modules(
        self, config: FaceEditConfig, nets: dict[str, nn.Module]
    ) -> dict[str, nn.Module]:
        from imagexform_faceedit.networks import Classifier

        return {**nets, "classifier": Classifier(nets["D"], config.image_size)}

    def io_spec(self, config: FaceEditConfig) -> IOSpec:
        names = attribute_names(config)
        attributes = ConditionSpec(
            name="attributes",
            labels=tuple(names),
            defaults=tuple(0.0 for _ in names),
            groups=tuple(tuple(group) for group in attribute_groups(config)),
            value_range=(0.0, 1.0),
        )
        return IOSpec(value_range=(-1.0, 1.0), size_multiple=4, conditions=(attributes,))

    def importers(self) -> list[Importer]:
        from imagexform_faceedit.importer import StarGANImporter

        return [StarGANImporter()]
