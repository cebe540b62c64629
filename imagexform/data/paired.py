"""Paired images (input and target of the same scene), the data pix2pix trains on.

Two layouts that pix2pix users already have on disk are recognised:

* ``aligned``: each file holds A and B side by side, A on the left (the reference repo's
  ``combine_A_and_B.py`` output);
* ``folders``: ``A/`` and ``B/`` sub-folders whose files pair up by name without extension
  (``A/0001.png`` with ``B/0001.jpg``), also as ``A/train`` + ``B/train``, the reference
  repo's input to that script.

Splits live in ``root/train``, ``root/val``, ``root/test``; a root without split folders is
the train split alone. Every file is decoded once up front so that a bad dataset fails, or
its unreadable files are reported, before hours of training rather than in the middle.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from imagexform.data.augment import augment_pair, checked_load_size, resize_pair
from imagexform.data.samples import SampleDataset, SampleRandom
from imagexform.errors import ConfigError, DataError
from imagexform.io.images import (
    ImageReadError,
    PathLike,
    display_path,
    list_images,
    read_image,
    to_float,
    to_gray,
    to_rgb,
)

Layout = Literal["auto", "aligned", "folders"]
Direction = Literal["AtoB", "BtoA"]

SPLITS = ("train", "val", "test")
_MAX_LISTED = 10
_PROBE_THREADS = 8


class SkippedImageWarning(UserWarning):
    """An unreadable file left out of a dataset; training goes on without it."""


@dataclass(frozen=True)
class _Source:
    layout: Literal["aligned", "folders"]
    a_dir: Path
    b_dir: Path  # the same folder as a_dir for the aligned layout


class PairedDataset(SampleDataset):
    """Pairs of images as ``{"A": input, "B": target, "path": str}``, tensors C×H×W in
    [-1, 1]; "A" is the model's input after ``direction`` is applied.

    ``load_size`` 0 means :func:`default_load_size` of ``crop_size``. ``input_nc`` and
    ``output_nc`` (1 or 3) are the channel counts of "A" and "B"; files are converted to
    them whatever they hold (gray, RGB, RGBA, 16-bit). A training item asked for without
    the trainer's sample seed draws one from torch's global generator.

    After construction, ``pairs`` holds the usable ``(A file, B file)`` pairs (the same file
    twice for the aligned layout) and ``skipped`` the unreadable files with the reason.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        layout: Layout = "auto",
        direction: Direction = "AtoB",
        load_size: int = 0,
        crop_size: int = 256,
        flip: bool = True,
        train: bool = True,
        input_nc: int = 3,
        output_nc: int = 3,
    ) -> None:
        if direction not in ("AtoB", "BtoA"):
            raise ConfigError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        if input_nc not in (1, 3) or output_nc not in (1, 3):
            raise ConfigError(f"input_nc and output_nc must be 1 or 3, got {input_nc}, {output_nc}")
        load_size = checked_load_size(load_size, crop_size)
        root = Path(root)
        source = _locate(root, split, layout)
        if source is None:
            raise DataError(_missing_split_message(root, split))
        self.root = root
        self.split = split
        self.layout = source.layout
        self.direction = direction
        self.load_size = load_size
        self.crop_size = crop_size
        self.flip = flip
        self.train = train
        self.input_nc = input_nc
        self.output_nc = output_nc
        if source.layout == "aligned":
            files = images_in(source.a_dir)
            candidates = [(path, path) for path in files]
        else:
            candidates = _match_by_stem(source.a_dir, source.b_dir)
        self.pairs, self.skipped = _check_pairs(source, candidates)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        a_path, b_path = self.pairs[index]
        if self.layout == "aligned":
            image = read_image(a_path)
            half = image.shape[1] // 2
            a, b = image[:, :half], image[:, half:]
        else:
            a, b = read_image(a_path), read_image(b_path)
        if self.direction == "BtoA":
            a, b = b, a
            a_path, b_path = b_path, a_path
        a_tensor = to_tensor(a, self.input_nc)
        b_tensor = to_tensor(b, self.output_nc)
        if self.train:
            a_tensor, b_tensor = augment_pair(
                a_tensor,
                b_tensor,
                load_size=self.load_size,
                crop_size=self.crop_size,
                flip=self.flip,
                seed=(rng or SampleRandom.fresh()).seed,
            )
        else:
            a_tensor, b_tensor = resize_pair(a_tensor, b_tensor, self.crop_size)
        return {"A": a_tensor, "B": b_tensor, "path": str(a_path)}


def paired_dataset_or_none(root: PathLike, split: str, **options: Any) -> PairedDataset | None:
    """The dataset for ``split``, or None when the data has no such split: val and test are
    optional. Train is not, so a missing train split raises, as does any split that exists
    but is unusable."""
    if split != "train" and _locate(Path(root), split, options.get("layout", "auto")) is None:
        return None
    return PairedDataset(root, split, **options)


def to_tensor(image: np.ndarray, channels: int) -> Tensor:
    converted = to_rgb(image) if channels == 3 else to_gray(image)
    return torch.from_numpy(to_float(converted)).permute(2, 0, 1).contiguous()


def _locate(root: Path, split: str, layout: Layout) -> _Source | None:
    if not root.exists():
        raise DataError(f"{display_path(root)}: data folder does not exist")
    if not root.is_dir():
        raise DataError(f"{display_path(root)}: is a file; give the folder that holds the data")
    a_root, b_root = root / "A", root / "B"
    if layout != "aligned" and split_folders(a_root) | split_folders(b_root):
        a_dir, b_dir = a_root / split, b_root / split
        if not a_dir.is_dir() and not b_dir.is_dir():
            return None
        for missing, present in ((a_dir, b_dir), (b_dir, a_dir)):
            if not missing.is_dir():
                raise DataError(
                    f"{display_path(missing)}: folder does not exist, but "
                    f"{display_path(present)} does; every split needs both A and B"
                )
        return _Source("folders", a_dir, b_dir)
    if split_folders(root):
        folder = root / split
        return _detect_layout(folder, layout) if folder.is_dir() else None
    return _detect_layout(root, layout) if split == "train" else None


def split_folders(folder: Path) -> set[str]:
    return {split for split in SPLITS if (folder / split).is_dir()}


def _detect_layout(folder: Path, layout: Layout) -> _Source:
    has_a, has_b = (folder / "A").is_dir(), (folder / "B").is_dir()
    if layout == "aligned" or (layout == "auto" and not has_a and not has_b):
        return _Source("aligned", folder, folder)
    if not (has_a and has_b):
        missing = "B" if has_a else "A"
        raise DataError(
            f"{display_path(folder)}: has no {missing}/ sub-folder; the folders layout needs "
            "A/ and B/ holding images with matching names"
        )
    return _Source("folders", folder / "A", folder / "B")


def _missing_split_message(root: Path, split: str) -> str:
    splits = split_folders(root) | split_folders(root / "A")
    if splits:
        found = ", ".join(sorted(splits))
        return f"{display_path(root)}: has no '{split}' split (found: {found})"
    return (
        f"{display_path(root)}: has no '{split}' split; a folder without train/val/test "
        "sub-folders is used as the train split only"
    )


def images_in(folder: Path) -> list[Path]:
    images = list_images(folder)
    if not images:
        raise DataError(f"{display_path(folder)}: holds no images ({describe_contents(folder)})")
    return images


def describe_contents(folder: Path) -> str:
    """What a folder holds instead of images, since the fix depends on it: a wrong level
    (only sub-folders), the wrong folder (documents), or an unsupported format."""
    files: list[str] = []
    subfolders: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            (subfolders if entry.is_dir() else files).append(entry.name)
    if not files and not subfolders:
        return "the folder is empty"
    parts = []
    if files:
        kinds = sorted({_file_kind(name) for name in files})
        noun = "file" if len(files) == 1 else "files"
        parts.append(f"found {len(files)} {noun}, none an image ({name_listing(kinds)})")
    if subfolders:
        prefix = "sub-folders" if files else "found only sub-folders"
        parts.append(f"{prefix}: {name_listing(sorted(subfolders))}")
    return "; ".join(parts)


def _file_kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix and not name.startswith(".") else display_path(name)


def name_listing(names: Sequence[str]) -> str:
    shown = ", ".join(display_path(name) for name in names[:_MAX_LISTED])
    extra = len(names) - _MAX_LISTED
    return f"{shown} and {extra} more" if extra > 0 else shown


def _match_by_stem(a_dir: Path, b_dir: Path) -> list[tuple[Path, Path]]:
    a_files = images_by_stem(a_dir)
    b_files = images_by_stem(b_dir)
    only_a = sorted(a_files.keys() - b_files.keys())
    only_b = sorted(b_files.keys() - a_files.keys())
    if only_a or only_b:
        sides = []
        if only_a:
            names = [a_files[stem].name for stem in only_a]
            sides.append(f"only in A: {name_listing(names)}")
        if only_b:
            names = [b_files[stem].name for stem in only_b]
            sides.append(f"only in B: {name_listing(names)}")
        raise DataError(
            f"{display_path(a_dir)} and {display_path(b_dir)}: "
            f"{len(only_a) + len(only_b)} images have no partner with the same name "
            f"({'; '.join(sides)})"
        )
    return [(a_files[stem], b_files[stem]) for stem in sorted(a_files)]


def images_by_stem(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in images_in(folder):
        other = files.setdefault(path.stem, path)
        if other != path:
            raise DataError(
                f"{display_path(folder)}: {display_path(other.name)} and "
                f"{display_path(path.name)} have the same name, so which one pairs is "
                "ambiguous; keep one"
            )
    return files


def readable_images(folder: Path) -> tuple[dict[Path, tuple[int, int]], list[tuple[Path, str]]]:
    """The images in ``folder`` that decode, with their (height, width), and the unreadable
    ones with the reason, each warned about; a DataError when none decodes."""
    files = images_in(folder)
    readable: dict[Path, tuple[int, int]] = {}
    skipped: list[tuple[Path, str]] = []
    for path, result in zip(files, probe_images(files), strict=True):
        if isinstance(result, ImageReadError):
            skipped.append((path, result.problem))
            warnings.warn(f"{result}; skipped", SkippedImageWarning, stacklevel=3)
        else:
            readable[path] = result
    if not readable:
        raise DataError(f"{display_path(folder)}: none of its {len(files)} images can be read")
    return readable, skipped


def probe_images(files: Sequence[Path]) -> list[tuple[int, int] | ImageReadError]:
    """:func:`probe_image` of every file, decoded on a few threads (decoding releases the GIL)."""
    with ThreadPoolExecutor(max_workers=min(_PROBE_THREADS, os.cpu_count() or 1)) as pool:
        return list(pool.map(probe_image, files))


def probe_image(path: Path) -> tuple[int, int] | ImageReadError:
    try:
        return read_image(path).shape[:2]
    except ImageReadError as error:
        return error


def _check_pairs(
    source: _Source, candidates: list[tuple[Path, Path]]
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Decode every file once: drop pairs with an unreadable file (warning about each), and
    reject the dataset for problems that skipping cannot fix. Pixels are not kept, so memory
    does not grow with the dataset."""
    files = sorted({path for pair in candidates for path in pair})
    probed = dict(zip(files, probe_images(files), strict=True))

    pairs: list[tuple[Path, Path]] = []
    skipped: list[tuple[Path, str]] = []
    odd_widths: list[str] = []
    mismatched: list[str] = []
    for a_path, b_path in candidates:
        results = [probed[path] for path in dict.fromkeys((a_path, b_path))]
        failures = [result for result in results if isinstance(result, ImageReadError)]
        for failure in failures:
            skipped.append((failure.path, failure.problem))
            warnings.warn(f"{failure}; skipped", SkippedImageWarning, stacklevel=3)
        if failures:
            continue
        a_height, a_width = probed[a_path]
        b_height, b_width = probed[b_path]
        if source.layout == "aligned" and a_width % 2:
            odd_widths.append(f"{display_path(a_path.name)} ({a_width} px)")
        elif (a_height, a_width) != (b_height, b_width):
            mismatched.append(
                f"{display_path(a_path.name)} {a_width}×{a_height} vs "
                f"{display_path(b_path.name)} {b_width}×{b_height}"
            )
        pairs.append((a_path, b_path))

    where = display_path(source.a_dir)
    if odd_widths:
        raise DataError(
            f"{where}: {len(odd_widths)} images have an odd width, so they cannot be split "
            f"into A|B halves; is this the side-by-side layout? ({name_listing(odd_widths)})"
        )
    if mismatched:
        raise DataError(
            f"{where} and {display_path(source.b_dir)}: {len(mismatched)} pairs differ in "
            f"size and cannot be paired ({name_listing(mismatched)})"
        )
    if not pairs:
        unit = "images" if source.layout == "aligned" else "pairs"
        first_path, first_problem = skipped[0]
        raise DataError(
            f"{where}: none of the {len(candidates)} {unit} can be read "
            f"(first: {display_path(first_path.name)}: {first_problem})"
        )
    return pairs, skipped
