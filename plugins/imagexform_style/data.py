"""Content photos for style training: any folder of pictures, each the shorter side resized
to ``image_size`` and centre-cropped, in 0..255 as the reference network takes them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imagexform.plugin_api import (
    DataError,
    SampleDataset,
    SampleRandom,
    display_path,
    fit,
    read_image,
    readable_images,
    to_rgb,
    to_uint8,
)


class SmallContentWarning(UserWarning):
    """Photos smaller than the training size are enlarged, which blurs what the network sees."""


def square(image: np.ndarray, size: int) -> np.ndarray:
    """8-bit RGB, the centred square at ``size``×``size``, as the reference's Resize then
    CenterCrop gives it."""
    return fit(to_rgb(to_uint8(image)), size, "crop")


class ContentDataset(SampleDataset):
    """``{"content": 3×S×S float tensor in 0..255, "path": str}``; ``skipped`` lists
    unreadable files."""

    def __init__(self, folder: Path, image_size: int) -> None:
        if not folder.is_dir():
            raise DataError(f"{display_path(folder)}: content folder does not exist")
        readable, self.skipped = readable_images(folder)
        self.files = list(readable)
        small = [path.name for path, shape in readable.items() if min(shape) < image_size]
        if small:
            listed = ", ".join(small[:5]) + (
                f" and {len(small) - 5} more" if len(small) > 5 else ""
            )
            warnings.warn(
                f"{display_path(folder)}: {len(small)} photo(s) smaller than image_size "
                f"{image_size} are enlarged ({listed})",
                SmallContentWarning,
                stacklevel=2,
            )
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        path = self.files[index]
        pixels = square(read_image(path), self.image_size).astype(np.float32)
        return {
            "content": torch.from_numpy(pixels).permute(2, 0, 1).contiguous(),
            "path": str(path),
        }
