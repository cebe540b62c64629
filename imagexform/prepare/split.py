"""A folder of images into train/ val/ test/ by ratio, reproducibly.

Files are copied byte for byte (never re-encoded, never moved). The same seed and the same
set of names give the same split on any machine; adding files reshuffles, so split once and
keep the result."""

from __future__ import annotations

import random
from pathlib import Path

from imagexform.errors import UserError
from imagexform.io.images import list_images, read_file_bytes, write_bytes_atomic
from imagexform.prepare.walk import Outcome, each

SPLITS = ("train", "val", "test")


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` (or two values, test then 0) as fractions summing to 1."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--ratios {text!r}: expected numbers like 0.8,0.1,0.1") from None
    if len(values) == 2:
        values.append(0.0)
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0:
        raise UserError(f"--ratios {text!r}: expected two or three non-negative numbers")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def assign(names: list[str], ratios: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Split name for each file name; sizes are the ratios rounded, remainder to train."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    val = round(ratios[1] * len(order))
    test = round(ratios[2] * len(order))
    train = len(order) - val - test
    cuts = {**dict.fromkeys(order[:train], "train")}
    cuts.update(dict.fromkeys(order[train : train + val], "val"))
    cuts.update(dict.fromkeys(order[train + val :], "test"))
    return cuts


def split(folder: Path, output: Path, ratios: tuple[float, float, float], seed: int) -> Outcome:
    files = {path.name: path for path in list_images(folder)}
    where = assign(list(files), ratios, seed)
    for name in SPLITS:
        if name in where.values():
            (output / name).mkdir(parents=True, exist_ok=True)

    def copy(name: str) -> int:
        write_bytes_atomic(output / where[name] / name, read_file_bytes(files[name]))
        return 1

    return each(sorted(files), copy, lambda name: name, "copying")
