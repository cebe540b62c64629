"""Sample photos for the runtime benchmarks, torch-free so a measured child process loads
only what the runtime itself loads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imagexform.io.images import read_image, to_rgb

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "assets" / "photos").glob("*.*"))


def photos(count: int | None = None) -> list[np.ndarray]:
    """The sample photos as RGB (``camera.png`` is gray)."""
    return [to_rgb(read_image(path)) for path in PHOTOS[:count]]


def mosaic(size: tuple[int, int]) -> np.ndarray:
    """A ``size`` (height, width) picture tiled from the sample photos at their own scale, so
    it has real photographic detail everywhere."""
    height, width = size
    tiles = [cv2.resize(p, (512, 512), interpolation=cv2.INTER_AREA) for p in photos()]
    rows = -(-height // 512)
    columns = -(-width // 512)
    grid = [
        np.hstack([tiles[(r * columns + c) % len(tiles)] for c in range(columns)])
        for r in range(rows)
    ]
    return np.ascontiguousarray(np.vstack(grid)[:height, :width])


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return round(10 * np.log10(peak * peak / mse), 2) if mse else float("inf")
