"""Synthetic "faces" with known attributes, drawn with OpenCV, written in the CelebA layout.

Real face datasets cannot ship with the project; these give the parser, the training loop and
an edit-quality check (does the hair turn the asked colour?) data whose truth is known.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses", "Smiling")
HAIR_GROUP = ATTRIBUTES[:3]
HAIR_RGB = {"Black_Hair": (25, 20, 20), "Blond_Hair": (235, 205, 120), "Brown_Hair": (120, 70, 35)}


def hair_mask(size: int) -> np.ndarray:
    """Where the hair is drawn: the band over the top of the head."""
    mask = np.zeros((size, size), np.uint8)
    centre, axes = (size // 2, size // 2), (size * 3 // 8, size * 7 // 16)
    cv2.ellipse(mask, centre, (axes[0] + size // 16, axes[1] + size // 16), 0, 180, 360, 1, -1)
    cv2.ellipse(mask, (size // 2, size // 2 + size // 16), axes, 0, 0, 360, 0, -1)
    return mask.astype(bool)


def draw_face(attributes: dict[str, int], size: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB face: hair colour from the hair attributes, glasses, a smiling or flat mouth."""
    image = np.full((size, size, 3), rng.integers(150, 220, 3), np.uint8)
    hair = next((name for name in HAIR_GROUP if attributes.get(name)), "Black_Hair")
    image[hair_mask(size)] = HAIR_RGB[hair]
    skin = tuple(int(v) for v in rng.integers(170, 240, 3))
    cv2.ellipse(
        image,
        (size // 2, size // 2 + size // 16),
        (size * 3 // 8, size * 7 // 16),
        0,
        0,
        360,
        skin,
        -1,
    )
    eye_y, eye_dx = size * 7 // 16, size // 7
    for side in (-1, 1):
        centre = (size // 2 + side * eye_dx, eye_y)
        cv2.circle(image, centre, max(1, size // 32), (30, 30, 30), -1)
        if attributes.get("Eyeglasses"):
            cv2.circle(image, centre, size // 12, (10, 10, 10), max(1, size // 48))
    mouth = (size // 2, size * 11 // 16)
    if attributes.get("Smiling"):
        cv2.ellipse(
            image, mouth, (size // 7, size // 14), 0, 0, 180, (150, 30, 40), max(1, size // 40)
        )
    else:
        cv2.line(
            image,
            (mouth[0] - size // 8, mouth[1]),
            (mouth[0] + size // 8, mouth[1]),
            (150, 30, 40),
            max(1, size // 40),
        )
    return image


def write_dataset(root: Path, count: int, size: int = 64, seed: int = 0) -> list[dict[str, int]]:
    """``root/images/NNNNNN.png`` and ``root/list_attr_celeba.txt`` with CelebA's irregular
    spacing; returns the attributes drawn."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = [str(count), " ".join(ATTRIBUTES)]
    drawn = []
    for index in range(count):
        attributes = {name: int(rng.random() < 0.5) for name in ATTRIBUTES[3:]}
        hair = HAIR_GROUP[int(rng.integers(0, 3))]
        attributes.update({name: int(name == hair) for name in HAIR_GROUP})
        name = f"{index + 1:06d}.png"
        image = draw_face(attributes, size, rng)
        cv2.imwrite(str(root / "images" / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        values = ["1" if attributes[a] else "-1" for a in ATTRIBUTES]
        lines.append(name + " " + "".join(f"{v:>3}" for v in values))
        drawn.append(attributes)
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return drawn
