"""Images from two domains that do not correspond one to one, the data CycleGAN trains on.

The layout is the reference implementation's (junyanz): ``trainA/`` and ``trainB/`` under
the data folder, optionally ``valA/ valB/`` and ``testA/ testB/`` (validation falls back to
the test split). An item pairs the A image
at its index with a B image drawn at random (from the sample's seed, so a resumed run draws
the same ones), or at the same index with ``serial_batches``; each image gets its own random
crop and flip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from imagexform.plugin_api import (
    DataError,
    PathLike,
    SampleDataset,
    SampleRandom,
    augment_image,
    checked_load_size,
    display_path,
    read_image,
    readable_images,
    resize_image,
    to_tensor,
)


class UnpairedDataset(SampleDataset):
    """``{"A": image, "B": image, "A_path": str, "B_path": str}``, tensors C×H×W in [-1, 1].

    Its length is that of the larger domain, as in the reference, so an epoch shows every
    image of both. ``skipped`` lists unreadable files with the reason.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        load_size: int = 0,
        crop_size: int = 256,
        flip: bool = True,
        train: bool = True,
        a_channels: int = 3,
        b_channels: int = 3,
        serial_batches: bool = False,
    ) -> None:
        load_size = checked_load_size(load_size, crop_size)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{display_path(root)}: data folder does not exist")
        self.load_size, self.crop_size, self.flip, self.train = load_size, crop_size, flip, train
        self.channels = {"A": a_channels, "B": b_channels}
        self.serial_batches = serial_batches
        self.skipped: list[tuple[Path, str]] = []
        self.files = {side: self._readable(root / f"{split}{side}") for side in ("A", "B")}

    def _readable(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            raise DataError(
                f"{display_path(folder)}: folder does not exist; unpaired data needs "
                "trainA/ and trainB/ (and optionally testA/ testB/)"
            )
        readable, skipped = readable_images(folder)
        self.skipped.extend(skipped)
        return list(readable)

    def __len__(self) -> int:
        return max(len(self.files["A"]), len(self.files["B"]))

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        rng = rng or (SampleRandom.fresh() if self.train else SampleRandom(index))
        a_files, b_files = self.files["A"], self.files["B"]
        if self.serial_batches or not self.train:
            b_index = index % len(b_files)
        else:
            generator = torch.Generator().manual_seed(rng.derive("B"))
            b_index = int(torch.randint(0, len(b_files), (), generator=generator))
        paths = {"A": a_files[index % len(a_files)], "B": b_files[b_index]}
        item_dict: dict[str, Any] = {}
        for side, path in paths.items():
            image = to_tensor(read_image(path), self.channels[side])
            if self.train:
                image = augment_image(
                    image,
                    load_size=self.load_size,
                    crop_size=self.crop_size,
                    flip=self.flip,
                    seed=rng.derive(side),
                )
            else:
                image = resize_image(image, self.crop_size)
            item_dict[side] = image
            item_dict[f"{side}_path"] = str(path)
        return item_dict


def unpaired_dataset_or_none(root: PathLike, split: str, **options: Any) -> UnpairedDataset | None:
    """The dataset for ``split``; None for a val or test split whose folders are absent.
    Validation reads ``testA/ testB/`` when there is no ``valA/ valB/``: the reference's
    datasets (horse2zebra...) come with a test split only."""
    root = Path(root)

    def present(name: str) -> bool:
        return (root / f"{name}A").is_dir() or (root / f"{name}B").is_dir()

    if split == "val" and not present("val") and present("test"):
        split = "test"
    if split != "train" and not present(split):
        return None
    return UnpairedDataset(root, split, **options)
