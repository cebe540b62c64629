"""One image to one size, the way datasets and thumbnails want it (not super-resolution's
MATLAB-exact bicubic, which is :mod:`imagexform.imaging.resize`)."""

from __future__ import annotations

import cv2
import numpy as np


def fit(image: np.ndarray, size: int, mode: str) -> np.ndarray:
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
