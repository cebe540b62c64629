"""Photos to edge maps, the input side of edges→photo pix2pix (edges2shoes, edges2handbags).

The reference datasets were made with HED, a network; Canny with thresholds taken from each
image's own median brightness gives comparable line drawings with nothing to download.
Edges are drawn black on white, as in those datasets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imagexform.io.images import (
    list_images,
    read_image,
    to_gray,
    to_rgb,
    to_uint8,
    write_image_atomic,
)
from imagexform.prepare.walk import Outcome, each


def edge_map(image: np.ndarray, sigma: float = 0.33, blur: int = 3) -> np.ndarray:
    """A uint8 H×W×3 drawing: black Canny edges on white. ``sigma`` widens the thresholds
    around the median (more edges), ``blur`` smooths texture away first (fewer edges)."""
    gray = to_gray(to_uint8(image))[:, :, 0]
    if blur > 1:
        gray = cv2.GaussianBlur(gray, (blur | 1, blur | 1), 0)
    median = float(np.median(gray))
    low = int(max(0.0, (1.0 - sigma) * median))
    high = int(min(255.0, (1.0 + sigma) * median))
    edges = cv2.Canny(gray, low, max(high, low + 1))
    return cv2.cvtColor(255 - edges, cv2.COLOR_GRAY2RGB)


def edges(
    folder: Path, output: Path, sigma: float = 0.33, blur: int = 3, pair: bool = False
) -> Outcome:
    """``output/<stem>.png`` for every photo: the edge map, or with ``pair`` the edge map
    beside the photo (A|B, ready for ``imagexform train pix2pix``)."""
    output.mkdir(parents=True, exist_ok=True)

    def draw(path: Path) -> int:
        image = read_image(path)
        drawing = edge_map(image, sigma, blur)
        if pair:
            drawing = np.hstack([drawing, to_rgb(to_uint8(image))])
        write_image_atomic(output / f"{path.stem}.png", drawing)
        return 1

    return each(list_images(folder), draw, lambda path: path.name, "drawing edges")
