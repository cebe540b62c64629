"""Face photos with their attribute vectors: an image folder plus an attribute table
(CelebA layout or CSV), centre-cropped and resized as the reference does (178 -> 128)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from imagexform.plugin_api import (
    DataError,
    SampleDataset,
    SampleRandom,
    augment_image,
    display_path,
    read_image,
    to_tensor,
)
from imagexform_faceedit.attributes import read_table

TABLE_NAMES = ("list_attr_celeba.txt", "attributes.csv")
IMAGE_FOLDERS = ("img_align_celeba", "images")


def find_table(root: Path, configured: str) -> Path:
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise DataError(f"{display_path(path)}: attribute file not found")
        return path
    for name in TABLE_NAMES:
        if (root / name).is_file():
            return root / name
    raise DataError(
        f"{display_path(root)}: no attribute table ({' or '.join(TABLE_NAMES)}); "
        "or set attribute_file=PATH"
    )


def find_images(root: Path) -> Path:
    return next((root / name for name in IMAGE_FOLDERS if (root / name).is_dir()), root)


class FaceDataset(SampleDataset):
    """``{"image": 3×S×S in [-1, 1], "labels": float vector, "path": str}``."""

    def __init__(
        self,
        root: Path,
        attributes: list[str],
        *,
        table: str = "",
        crop_size: int = 178,
        image_size: int = 128,
        flip: bool = True,
    ) -> None:
        if not root.is_dir():
            raise DataError(f"{display_path(root)}: data folder does not exist")
        rows = read_table(find_table(root, table), attributes)
        images = find_images(root)
        missing = [name for name in rows if not (images / name).is_file()]
        if missing:
            listed = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise DataError(
                f"{display_path(images)}: {len(missing)} listed image(s) missing: {listed}"
            )
        self.items = [(images / name, [row[a] for a in attributes]) for name, row in rows.items()]
        self.crop_size, self.image_size, self.flip = crop_size, image_size, flip

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        path, labels = self.items[index]
        image = to_tensor(read_image(path), 3)
        height, width = image.shape[1:]
        side = min(self.crop_size, height, width)
        top, left = (height - side) // 2, (width - side) // 2
        image = image[:, top : top + side, left : left + side]
        image = augment_image(
            image,
            load_size=self.image_size,
            crop_size=self.image_size,
            flip=self.flip and rng is not None,
            seed=rng.seed if rng is not None else 0,
        )
        return {"image": image, "labels": torch.tensor(labels), "path": str(path)}
