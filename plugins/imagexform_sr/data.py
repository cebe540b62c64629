"""Super-resolution data: high-resolution photos, with low-resolution inputs made on the fly or
read from a matching folder.

Two layouts are recognised:

* **HR only**: a folder of photos (or an ``HR/`` sub-folder without ``LR/``). The LR input is
  made from each training crop, either with MATLAB's bicubic (antialiased) downscale, the
  degradation SR benchmarks use, or with Real-ESRGAN's random second-order degradation
  (:mod:`imagexform.data.degradations`) for models meant for real-world photos.
* **paired**: ``HR/`` and ``LR/`` sub-folders. Files pair up by name, either identical
  (``HR/0001.png`` with ``LR/0001.png``) or DIV2K's (``HR/0001.png`` with ``LR/0001x4.png``);
  an ``LR/X4`` sub-folder, DIV2K's ``X4`` level, is used when present. Each LR must be HR/scale
  in both dimensions, rounded down (HR is then cropped to LR × scale, the usual "mod crop").

Splits live in ``root/train``, ``root/val``, ``root/test`` (or ``HR/train`` + ``LR/train``); a
root without split folders is the train split alone, as for paired data.

Every file is decoded once up front: unreadable files are skipped with a warning, and so are
HR photos too small for one ``gt_size`` training crop; a dataset with nothing left, or with LR
files of the wrong size, is refused before training starts.

Whatever the file holds becomes 3-channel float in [0, 1]: gray is replicated to RGB, alpha is
dropped (not composited), 16-bit values are scaled by 65535 (so an 8- and a 16-bit copy of a
photo give the same tensor, to within 8-bit rounding). LR inputs made here are clipped to
[0, 1] and rounded to 8-bit levels, as the LR files of DIV2K and of every benchmark are, so a
model never learns from precision it will not see in a real LR image.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from imagexform.plugin_api import (
    ConfigError,
    DataError,
    ImageReadError,
    PathLike,
    SampleDataset,
    SampleRandom,
    SkippedImageWarning,
    display_path,
    images_by_stem,
    images_in,
    imresize,
    name_listing,
    probe_images,
    read_image,
    split_folders,
    to_float,
    to_rgb,
)
from imagexform_sr.degradations import RealESRGANDegradation, degrade

Degradation = Literal["bicubic", "realesrgan"]
Layout = Literal["hr_only", "paired"]

__all__ = [
    "Degradation",
    "SkippedImageWarning",
    "SuperResDataset",
    "superres_dataset_or_none",
]


@dataclass(frozen=True)
class _Source:
    layout: Layout
    hr_dir: Path
    lr_dir: Path | None


class SuperResDataset(SampleDataset):
    """``{"LR": 3×h×w, "HR": 3×H×W, "path": HR file}``, float tensors in [0, 1], H = h × scale.

    Training items (``train=True``) are random ``gt_size`` HR crops with the matching
    ``gt_size / scale`` LR crops, flipped horizontally and vertically and transposed (the 8
    orientations of a square) half of the time each, the same for LR and HR. Randomness comes
    from the sample seed of :class:`~imagexform.data.sampling.ResumableSampler` (items are
    indexed by ``(index, sample_seed)``); a plain ``int`` index draws a seed from torch's
    global generator.

    Validation items (``train=False``) are whole pictures: HR cropped at the bottom and right
    to a multiple of ``scale``, and its bicubic LR (also with ``degradation="realesrgan"``, so
    validation numbers are the standard bicubic ones and do not change from run to run).
    Pictures differ in size, so they cannot be stacked: validate with batch size 1.

    After construction ``items`` holds the usable ``(HR file, LR file or None)`` pairs and
    ``skipped`` the files left out, with the reason.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        scale: int,
        gt_size: int,
        train: bool = True,
        degradation: Degradation = "bicubic",
        flip: bool = True,
        rotate: bool = True,
        degradation_settings: RealESRGANDegradation | None = None,
    ) -> None:
        if not isinstance(scale, int) or scale < 1:
            raise ConfigError(f"scale must be a positive whole number, got {scale!r}")
        if gt_size < 1 or gt_size % scale:
            raise ConfigError(
                f"gt_size ({gt_size}) must be a positive multiple of scale ({scale}) so that "
                "the LR crop has a whole number of pixels"
            )
        if degradation not in ("bicubic", "realesrgan"):
            raise ConfigError(f"degradation must be 'bicubic' or 'realesrgan', got {degradation!r}")
        root = Path(root)
        source = _locate(root, split, scale)
        if source is None:
            raise DataError(_missing_split_message(root, split))
        if source.layout == "paired" and degradation != "bicubic":
            raise ConfigError(
                f"{display_path(source.lr_dir or root)}: degradation {degradation!r} makes the "
                "LR inputs from HR, but this dataset has its own LR/ folder; remove LR/ to "
                "train on HR photos alone, or use degradation 'bicubic' (the given LR files)"
            )
        self.root = root
        self.split = split
        self.layout: Layout = source.layout
        self.scale = scale
        self.gt_size = gt_size
        self.train = train
        self.degradation: Degradation = degradation
        self.flip = flip
        self.rotate = rotate
        self.degradation_settings = degradation_settings or RealESRGANDegradation()
        if source.lr_dir is None:
            candidates: list[tuple[Path, Path | None]] = [
                (path, None) for path in images_in(source.hr_dir)
            ]
        else:
            candidates = _match_lr(source.hr_dir, source.lr_dir, scale)
        self.items, self.skipped = self._check(source, candidates)

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int, rng: SampleRandom | None) -> dict[str, Any]:
        hr_path, lr_path = self.items[index]
        hr = _load_rgb(hr_path)
        lr = None if lr_path is None else _load_rgb(lr_path)
        generator = None
        if self.train:
            generator = (rng or SampleRandom.fresh()).generator()
        hr, lr = self._crop(hr, lr, generator)
        hr_tensor = _to_tensor(hr)
        lr_tensor = None if lr is None else _to_tensor(lr)
        if generator is not None:
            hr_tensor, lr_tensor = self._augment(hr_tensor, lr_tensor, generator)
        if lr_tensor is None:
            if self.degradation == "realesrgan" and generator is not None:
                lr_tensor = degrade(hr_tensor, self.scale, generator, self.degradation_settings)
            else:
                lr_tensor = _bicubic_lr(hr_tensor, self.scale)
        return {"LR": lr_tensor, "HR": hr_tensor, "path": str(hr_path)}

    def _crop(
        self, hr: np.ndarray, lr: np.ndarray | None, generator: torch.Generator | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The training crop (aligned on the LR grid for pairs) or the whole picture cut to a
        multiple of the scale."""
        scale = self.scale
        if lr is not None:
            hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        if generator is None:
            height, width = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
            return hr[:height, :width], lr
        if lr is not None:
            size = self.gt_size // scale
            top, left = _random_corner(lr.shape, size, generator)
            lr = lr[top : top + size, left : left + size]
            top, left, size = top * scale, left * scale, self.gt_size
        else:
            size = self.gt_size
            top, left = _random_corner(hr.shape, size, generator)
        return hr[top : top + size, left : left + size], lr

    def _augment(
        self, hr: Tensor, lr: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        # Draw every choice whatever the options, so switching one off leaves the others be.
        hflip, vflip, transpose = (torch.rand(3, generator=generator) < 0.5).tolist()

        def apply(image: Tensor) -> Tensor:
            if self.flip and hflip:
                image = image.flip(-1)
            if self.rotate and vflip:
                image = image.flip(-2)
            if self.rotate and transpose:
                image = image.transpose(-1, -2)
            return image.contiguous()

        return apply(hr), None if lr is None else apply(lr)

    def _check(
        self, source: _Source, candidates: list[tuple[Path, Path | None]]
    ) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, str]]]:
        """Decode every file once; skip the unreadable and the too small (warning about
        each); refuse LR files of the wrong size and a dataset with nothing left."""
        files = sorted({path for pair in candidates for path in pair if path is not None})
        probed = dict(zip(files, probe_images(files), strict=True))

        items: list[tuple[Path, Path | None]] = []
        skipped: list[tuple[Path, str]] = []
        mismatched: list[str] = []
        too_small = 0

        def skip(path: Path, problem: str) -> None:
            skipped.append((path, problem))
            message = f"{display_path(path)}: {problem}; skipped"
            warnings.warn(message, SkippedImageWarning, stacklevel=4)

        for hr_path, lr_path in candidates:
            results = [probed[path] for path in (hr_path, lr_path) if path is not None]
            failures = [result for result in results if isinstance(result, ImageReadError)]
            for failure in failures:
                skip(failure.path, failure.problem)
            if failures:
                continue
            mismatch = self._size_mismatch(hr_path, lr_path, probed)
            if mismatch:
                mismatched.append(mismatch)
                continue
            small = self._too_small(probed[hr_path])
            if small:
                too_small += 1
                skip(hr_path, small)
                continue
            items.append((hr_path, lr_path))
        self._refuse_unusable(source, len(candidates), items, skipped, mismatched, too_small)
        return items, skipped

    def _size_mismatch(
        self, hr_path: Path, lr_path: Path | None, probed: dict[Path, Any]
    ) -> str | None:
        """How an LR file's size differs from 1/scale of its HR file's, or None."""
        hr_height, hr_width = probed[hr_path]
        expected = (hr_height // self.scale, hr_width // self.scale)
        if lr_path is None or probed[lr_path] == expected:
            return None
        lr_height, lr_width = probed[lr_path]
        return (
            f"{display_path(hr_path.name)} {hr_width}×{hr_height} vs "
            f"{display_path(lr_path.name)} {lr_width}×{lr_height}, expected "
            f"{expected[1]}×{expected[0]}"
        )

    def _too_small(self, hr_shape: tuple[int, int]) -> str | None:
        """Why an HR photo is too small to use, or None."""
        hr_height, hr_width = hr_shape
        needed = self.gt_size if self.train else self.scale
        if min(hr_height, hr_width) >= needed:
            return None
        purpose = (
            f"the {needed}×{needed} training crop (gt_size)"
            if self.train
            else f"one LR pixel at scale {self.scale}"
        )
        return f"{hr_width}×{hr_height} is too small for {purpose}"

    def _refuse_unusable(
        self,
        source: _Source,
        candidates: int,
        items: list[tuple[Path, Path | None]],
        skipped: list[tuple[Path, str]],
        mismatched: list[str],
        too_small: int,
    ) -> None:
        """Raise for LR files of the wrong size, or when no pair is left to train on."""
        where = display_path(source.hr_dir)
        if mismatched:
            raise DataError(
                f"{where} and {display_path(source.lr_dir or '')}: {len(mismatched)} LR images "
                f"are not 1/{self.scale} the size of their HR image ({name_listing(mismatched)})"
            )
        if not items:
            first_path, first_problem = skipped[0]
            hint = ""
            if too_small == candidates and self.train:
                hint = "; lower gt_size or add larger photos"
            raise DataError(
                f"{where}: none of the {candidates} images can be used (first: "
                f"{display_path(first_path.name)}: {first_problem}){hint}"
            )


def superres_dataset_or_none(root: PathLike, split: str, **options: Any) -> SuperResDataset | None:
    """The dataset for ``split``, or None when the data has no such split: val and test are
    optional. Train is not, so a missing train split raises, as does any split that exists
    but is unusable."""
    scale = options.get("scale", 1)
    if split != "train" and _locate(Path(root), split, scale) is None:
        return None
    return SuperResDataset(root, split, **options)


def _load_rgb(path: PathLike) -> np.ndarray:
    """An image file as H×W×3 float32 in [0, 1], per the conversions in the module notes."""
    return to_float(to_rgb(read_image(path)), (0.0, 1.0))


def _to_tensor(image: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def _bicubic_lr(hr: Tensor, scale: int) -> Tensor:
    pixels = hr.permute(1, 2, 0).numpy()
    lr = imresize(pixels, 1 / scale)
    lr = np.round(np.clip(lr, 0.0, 1.0) * 255.0) / 255.0
    return _to_tensor(lr.astype(np.float32))


def _random_corner(
    shape: tuple[int, ...], size: int, generator: torch.Generator
) -> tuple[int, int]:
    top = int(torch.randint(0, shape[0] - size + 1, (), generator=generator))
    left = int(torch.randint(0, shape[1] - size + 1, (), generator=generator))
    return top, left


def _locate(root: Path, split: str, scale: int) -> _Source | None:
    if not root.exists():
        raise DataError(f"{display_path(root)}: data folder does not exist")
    if not root.is_dir():
        raise DataError(f"{display_path(root)}: is a file; give the folder that holds the data")
    hr_root, lr_root = root / "HR", root / "LR"
    if split_folders(hr_root):
        hr_dir = hr_root / split
        if not hr_dir.is_dir():
            return None
        lr_dir = lr_root / split
        if lr_dir.is_dir():
            return _Source("paired", hr_dir, _lr_level(lr_dir, scale))
        return _Source("hr_only", hr_dir, None)
    if split_folders(root):
        folder = root / split
        return _detect_layout(folder, scale) if folder.is_dir() else None
    return _detect_layout(root, scale) if split == "train" else None


def _detect_layout(folder: Path, scale: int) -> _Source:
    hr_dir, lr_dir = folder / "HR", folder / "LR"
    if hr_dir.is_dir() and lr_dir.is_dir():
        return _Source("paired", hr_dir, _lr_level(lr_dir, scale))
    if hr_dir.is_dir():
        return _Source("hr_only", hr_dir, None)
    if lr_dir.is_dir():
        raise DataError(
            f"{display_path(folder)}: has LR/ but no HR/ sub-folder; super-resolution needs "
            "the HR images (LR/ is optional)"
        )
    return _Source("hr_only", folder, None)


def _lr_level(lr_dir: Path, scale: int) -> Path:
    """DIV2K keeps each scale in its own sub-folder (``X2``, ``X3``, ``X4``)."""
    for name in (f"X{scale}", f"x{scale}"):
        if (lr_dir / name).is_dir():
            return lr_dir / name
    return lr_dir


def _match_lr(hr_dir: Path, lr_dir: Path, scale: int) -> list[tuple[Path, Path | None]]:
    hr_files = images_by_stem(hr_dir)
    lr_files: dict[str, Path] = {}
    for stem, path in images_by_stem(lr_dir).items():
        suffix = f"x{scale}"
        hr_stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
        hr_stem = hr_stem if hr_stem in hr_files else stem
        other = lr_files.setdefault(hr_stem, path)
        if other != path:
            raise DataError(
                f"{display_path(lr_dir)}: {display_path(other.name)} and "
                f"{display_path(path.name)} both match {display_path(hr_files[hr_stem].name)}; "
                "keep one"
            )
    only_hr = sorted(hr_files.keys() - lr_files.keys())
    only_lr = sorted(lr_files.keys() - hr_files.keys())
    if only_hr or only_lr:
        sides = []
        if only_hr:
            sides.append(f"only in HR: {name_listing([hr_files[s].name for s in only_hr])}")
        if only_lr:
            sides.append(f"only in LR: {name_listing([lr_files[s].name for s in only_lr])}")
        raise DataError(
            f"{display_path(hr_dir)} and {display_path(lr_dir)}: "
            f"{len(only_hr) + len(only_lr)} images have no partner (LR files are named like "
            f"their HR file, or with x{scale} added: 0001.png and 0001x{scale}.png; "
            f"{'; '.join(sides)})"
        )
    return [(hr_files[stem], lr_files[stem]) for stem in sorted(hr_files)]


def _missing_split_message(root: Path, split: str) -> str:
    splits = split_folders(root) | split_folders(root / "HR")
    if splits:
        return f"{display_path(root)}: has no '{split}' split (found: {', '.join(sorted(splits))})"
    return (
        f"{display_path(root)}: has no '{split}' split; a folder without train/val/test "
        "sub-folders is used as the train split only"
    )
