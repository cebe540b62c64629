"""A folder of images at one size: square crops for training sets, or fitted for previews."""

from __future__ import annotations

from pathlib import Path

from imagexform.imaging.fit import fit
from imagexform.io.images import list_images, read_image, write_image_atomic
from imagexform.prepare.walk import Outcome, each


def resize(folder: Path, output: Path, size: int, mode: str) -> Outcome:
    """Each image to ``output`` under its own name and format."""
    output.mkdir(parents=True, exist_ok=True)

    def convert(path: Path) -> int:
        write_image_atomic(output / path.name, fit(read_image(path), size, mode))
        return 1

    return each(list_images(folder), convert, lambda path: path.name, "resizing")
