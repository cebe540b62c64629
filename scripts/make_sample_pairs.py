"""Regenerate assets/pairs/edges2photo from the photos in assets/photos.

Each pair is the junyanz "aligned" layout: one image, edge sketch (A) on the left and the
photo crop (B) on the right, so pix2pix learns sketch -> photo. Deterministic: rerunning gives
the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "photos"
OUT = ROOT / "assets" / "pairs" / "edges2photo"
CROP = 128
CROPS_PER_PHOTO = 4
VAL_EVERY = 6  # every 6th pair goes to val/


def sketch(photo: np.ndarray) -> np.ndarray:
    """Black edges on white, like the edges2* datasets."""
    gray = cv2.GaussianBlur(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), (5, 5), 1.2)
    edges = cv2.Canny(gray, 60, 140)
    return cv2.cvtColor(255 - edges, cv2.COLOR_GRAY2BGR)


def main() -> int:
    rng = np.random.default_rng(0)
    count = 0
    for path in sorted(PHOTOS.iterdir()):
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if photo is None or path.suffix != ".jpg":  # colour photos only
            continue
        height, width = photo.shape[:2]
        for index in range(CROPS_PER_PHOTO):
            top = int(rng.integers(0, height - CROP + 1))
            left = int(rng.integers(0, width - CROP + 1))
            crop = photo[top : top + CROP, left : left + CROP]
            split = "val" if count % VAL_EVERY == VAL_EVERY - 1 else "train"
            target = OUT / split / f"{path.stem}_{index}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(
                str(target), np.hstack([sketch(crop), crop]), [cv2.IMWRITE_JPEG_QUALITY, 92]
            )
            count += 1
    print(f"wrote {count} pairs under {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
