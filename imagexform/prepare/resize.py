"""A folder of images at one size: square crops for training sets, or fitted for previews."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imagexform.io.images import list_images, read_image, write_image_atomic
from imagexform.prepare.walk import Outcome, each


def resized(image: np.ndarray, size: int, mode: str) -> np.ndarray:
    """``crop``: the centred square, ``size``×``size``; ``fit``: the longer side ``size``,
    aspect kept; ``stretch``: ``size``×``size`` whatever the aspect. Area filtering when
    shrinking (no moiré), cubic when enlarging."""
    height, width = image.shape[:2]
    if mode == "crop":
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        image = image[top : top + side, left : left + side]
        target = (size, size)
    elif mode == "fit":
        scale = size / max(height, width)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
    else:
        target = (size, size)
    shrinking = target[0] * target[1] < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(image), target, interpolation=interpolation)


def resize(folder: Path, output: Path, size: int, mode: str) -> Outcome:
    """Each image to ``output`` under its own name and format."""
    output.mkdir(parents=True, exist_ok=True)

    def convert(path: Path) -> int:
        write_image_atomic(output / path.name, resized(read_image(path), size, mode))
        return 1

    return each(list_images(folder), convert, lambda path: path.name, "resizing")
