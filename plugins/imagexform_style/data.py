"""Content photos for style training: any folder of pictures, each the shorter side resized
to ``image_size`` and centre-cropped, in 0..255 as the reference network takes them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from imagexform.data.paired import SkippedImageWarning, images_in, probe_images
from imagexform.errors import DataError
from imagexform.io.images import ImageReadError, display_path, read_image, to_rgb


class SmallContentWarning(UserWarning):
    """Photos smaller than the training size are enlarged, which blurs what the network sees."""


def square(image: np.ndarray, size: int) -> np.ndarray:
    """Shorter side to ``size`` (area filter down, cubic up), then the centred square."""
    rgb = to_rgb(image)
    if rgb.dtype == np.uint16:
        rgb = (rgb // 257).astype(np.uint8)
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    target = (max(size, round(width * scale)), max(size, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(rgb, target, interpolation=interpolation)
    top, left = (target[1] - size) // 2, (target[0] - size) // 2
    return resized[top : top + size, left : left + size]


class ContentDataset(Dataset[dict[str, Any]]):
    """``{"content": 3×S×S float tensor in 0..255, "path": str}``; ``skipped`` lists
    unreadable files."""

    def __init__(self, root: Path, image_size: int) -> None:
        folder = root / "train" if (root / "train").is_dir() else root
        if not folder.is_dir():
            raise DataError(f"{display_path(folder)}: content folder does not exist")
        files = images_in(folder)
        probed = probe_images(files)
        self.files: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        small = []
        for path, result in zip(files, probed, strict=True):
            if isinstance(result, ImageReadError):
                self.skipped.append((path, result.problem))
                warnings.warn(f"{result}; skipped", SkippedImageWarning, stacklevel=2)
                continue
            if min(result) < image_size:
                small.append(path.name)
            self.files.append(path)
        if not self.files:
            raise DataError(f"{display_path(folder)}: none of its {len(files)} images can be read")
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

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index = item[0] if isinstance(item, tuple) else item
        path = self.files[index]
        pixels = square(read_image(path), self.image_size).astype(np.float32)
        return {
            "content": torch.from_numpy(pixels).permute(2, 0, 1).contiguous(),
            "path": str(path),
        }
