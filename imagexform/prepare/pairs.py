"""A/ and B/ folders with matching names to the side-by-side A|B layout pix2pix trains on,
and back (the reference's ``combine_A_and_B.py``, with its failure modes reported)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imagexform.io.images import list_images, read_image, to_rgb, to_uint8, write_image_atomic
from imagexform.prepare.walk import Outcome, each


def combine(a_dir: Path, b_dir: Path, output: Path) -> tuple[Outcome, list[str]]:
    """Write ``output/<stem>.png`` = A beside B for every name in both folders (B resized to
    A's size when they differ). Returns the outcome and the names found on one side only,
    for which nothing is written."""
    a_files = {path.stem: path for path in list_images(a_dir)}
    b_files = {path.stem: path for path in list_images(b_dir)}
    unmatched = sorted(
        [f"A/{a_files[s].name}" for s in a_files.keys() - b_files.keys()]
        + [f"B/{b_files[s].name}" for s in b_files.keys() - a_files.keys()]
    )
    output.mkdir(parents=True, exist_ok=True)

    def join(stem: str) -> int:
        a = to_rgb(to_uint8(read_image(a_files[stem])))
        b = to_rgb(to_uint8(read_image(b_files[stem])))
        if b.shape[:2] != a.shape[:2]:
            b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
        write_image_atomic(output / f"{stem}.png", np.hstack([a, b]))
        return 1

    common = sorted(a_files.keys() & b_files.keys())
    return each(common, join, lambda stem: a_files[stem].name, "combining"), unmatched


def split(folder: Path, output: Path) -> Outcome:
    """Cut every A|B image in ``folder`` into ``output/A/<stem>.png`` and ``output/B/...``."""
    (output / "A").mkdir(parents=True, exist_ok=True)
    (output / "B").mkdir(parents=True, exist_ok=True)

    def cut(path: Path) -> int:
        image = read_image(path)
        half = image.shape[1] // 2
        write_image_atomic(output / "A" / f"{path.stem}.png", image[:, :half])
        write_image_atomic(output / "B" / f"{path.stem}.png", image[:, half : 2 * half])
        return 2

    return each(list_images(folder), cut, lambda path: path.name, "splitting")
