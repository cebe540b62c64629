"""The fast-neural-style family: what the core needs to train, save and export it.

Torch-free at import: the host imports this to list families. Torch and the networks load
inside the methods that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.plugin_api import Family, Importer, IOSpec
from imagexform_style.config import StyleConfig

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset

ICON_SIZE = 96


class StyleFamily(Family):
    name = "style"
    summary = "Fast neural style transfer: one painting's style in one forward pass"
    config_class = StyleConfig
    dataset_layout = (
        "a folder of photos (content), or train/ and val/ sub-folders (val/ for FID/KID); "
        "the painting is --set style_image=PATH"
    )
    step_class = "imagexform_style.step:StyleStep"

    def build(self, config: StyleConfig) -> dict[str, nn.Module]:
        from imagexform_style.networks import TransformerNet

        return {"G": TransformerNet(config.width)}

    def dataset(self, config: StyleConfig, root: Path, split: str) -> Dataset | None:
        """Photos in ``train/`` (or the folder itself); ``val/`` photos, when present, are
        what FID/KID restyles (there is no ground truth to validate against otherwise)."""
        from imagexform_style.data import ContentDataset

        root = Path(root)
        if split == "train":
            return ContentDataset(
                root / "train" if (root / "train").is_dir() else root, config.image_size
            )
        return ContentDataset(root / split, config.image_size) if (root / split).is_dir() else None

    def io_spec(self, config: StyleConfig) -> IOSpec:
        # Two stride-2 layers then two ×2 upsamplings: sizes must be multiples of 4 to come
        # back unchanged. Strength and colour preservation are post-processing.
        return IOSpec(
            value_range=(0.0, 255.0),
            size_multiple=4,
            adjustments=("strength", "preserve_color"),
        )

    def icon(self, config: StyleConfig) -> bytes | None:
        """The painting, small: the editor shows it as the model's icon."""
        from imagexform.plugin_api import encode_image
        from imagexform_style.data import square
        from imagexform_style.step import load_style_image

        thumbnail = square(load_style_image(config), ICON_SIZE)
        return encode_image(Path("icon.png"), thumbnail)

    def importers(self) -> list[Importer]:
        from imagexform_style.importer import FastNeuralStyleImporter

        return [FastNeuralStyleImporter()]
