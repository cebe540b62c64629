"""Measuring a super-resolution model the way SR papers do, torch-free.

For each high-resolution photo: crop it to a multiple of the scale, make the LR input with
MATLAB's bicubic downscale (:func:`imagexform.imaging.imresize`, rounded to the photo's bit
depth as benchmark LR files are), upscale that with the exported model through the ONNX
runtime, and compare with the photo: PSNR/SSIM on the Y channel with ``crop_border = scale``
(BasicSR's convention, the numbers papers print) and on RGB. The same LR enlarged with
MATLAB's bicubic is the baseline every SR model must beat, so it is measured alongside.

The inference side installs no torch; the runtime is imported only when a model is loaded,
so importing this module (for the CLI's start-up) stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagexform.errors import UserError
from imagexform.imaging import imresize
from imagexform.io.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    PathLike,
    display_path,
    list_images,
    read_image,
    to_rgb,
)
from imagexform.metrics import sr_scores

METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
_SSIM_WINDOW = 11

Upscaler = Callable[[np.ndarray], np.ndarray]

__all__ = [
    "METRICS",
    "Evaluation",
    "ImageResult",
    "evaluate_images",
    "evaluate_model",
    "find_images",
    "mean_scores",
]


@dataclass(frozen=True)
class ImageResult:
    """One photo's scores; ``width`` and ``height`` are the HR size after the crop."""

    path: Path
    width: int
    height: int
    model: dict[str, float]
    bicubic: dict[str, float]


@dataclass
class Evaluation:
    """Per-image scores, the files left out (with why) and where they came from."""

    model_path: Path | None
    data: Path
    scale: int
    images: list[ImageResult] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def crop_border(self) -> int:
        return self.scale

    def mean(self) -> tuple[dict[str, float], dict[str, float]]:
        """Mean model and bicubic scores over the images."""
        return (
            mean_scores(image.model for image in self.images),
            mean_scores(image.bicubic for image in self.images),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: an infinite PSNR (output identical to the photo) becomes ``None``,
        since JSON has no infinity."""
        model_mean, bicubic_mean = self.mean()
        return {
            "model": None if self.model_path is None else str(self.model_path),
            "data": str(self.data),
            "scale": self.scale,
            "crop_border": self.crop_border,
            "images": [
                {
                    "path": str(image.path),
                    "name": image.path.name,
                    "width": image.width,
                    "height": image.height,
                    "model": _finite(image.model),
                    "bicubic": _finite(image.bicubic),
                    "gain": _finite(_gain(image.model, image.bicubic)),
                }
                for image in self.images
            ],
            "mean": {
                "model": _finite(model_mean),
                "bicubic": _finite(bicubic_mean),
                "gain": _finite(_gain(model_mean, bicubic_mean)),
            },
            "skipped": [{"path": str(path), "problem": problem} for path, problem in self.skipped],
        }


def mean_scores(scores: Iterable[dict[str, float]]) -> dict[str, float]:
    collected = list(scores)
    return {key: float(np.mean([score[key] for score in collected])) for key in METRICS}


def _gain(model: dict[str, float], bicubic: dict[str, float]) -> dict[str, float]:
    return {key: model[key] - bicubic[key] for key in METRICS}


def _finite(scores: dict[str, float]) -> dict[str, float | None]:
    return {key: value if math.isfinite(value) else None for key, value in scores.items()}


def find_images(data: PathLike, limit: int | None = None) -> list[Path]:
    """The photos to evaluate, sorted, at most ``limit``."""
    folder = Path(data)
    if not folder.exists():
        raise UserError(f"{display_path(folder)}: data folder does not exist")
    if not folder.is_dir():
        raise UserError(f"{display_path(folder)}: is a file; --data takes a folder of HR images")
    images = list_images(folder)
    if not images:
        kinds = ", ".join(IMAGE_EXTENSIONS)
        raise UserError(f"{display_path(folder)}: holds no images to evaluate (looked for {kinds})")
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        images = images[:limit]
    return images


def evaluate_images(
    paths: list[Path],
    upscale: Upscaler,
    scale: int,
    *,
    data: Path,
    model_path: Path | None = None,
    on_image: Callable[[Path], None] | None = None,
) -> Evaluation:
    """Score ``upscale`` (H×W×3 uint8/uint16 LR → the same ×``scale``) on HR photos.

    Unreadable photos and photos too small to measure (SSIM needs an 11×11 window after
    cropping ``scale`` pixels per side) are skipped and listed; if nothing is left to
    measure, that is an error naming the first problem.
    """
    evaluation = Evaluation(model_path=model_path, data=data, scale=scale)
    for path in paths:
        if on_image is not None:
            on_image(path)
        try:
            hr = to_rgb(read_image(path))
        except ImageReadError as error:
            evaluation.skipped.append((path, error.problem))
            continue
        problem = _too_small(hr, scale)
        if problem:
            evaluation.skipped.append((path, problem))
            continue
        evaluation.images.append(_score(path, hr, upscale, scale, model_path))
    if not evaluation.images:
        first_path, first_problem = evaluation.skipped[0]
        raise UserError(
            f"{display_path(data)}: none of the {len(paths)} images can be evaluated "
            f"(first: {display_path(first_path.name)}: {first_problem})"
        )
    return evaluation


def _too_small(hr: np.ndarray, scale: int) -> str:
    """Why ``hr`` cannot be measured at ×``scale`` (SSIM's window after the border crop), or
    an empty string when it can."""
    smallest = _SSIM_WINDOW + 2 * scale
    if min(hr.shape[0] // scale, hr.shape[1] // scale) * scale >= smallest:
        return ""
    return (
        f"{hr.shape[1]}×{hr.shape[0]} is too small to measure at ×{scale} "
        f"(needs {smallest}×{smallest})"
    )


def _score(
    path: Path, hr: np.ndarray, upscale: Upscaler, scale: int, model_path: Path | None
) -> ImageResult:
    """The model's and bicubic's scores on one photo (cropped to a multiple of ``scale``),
    from the LR made of it."""
    height, width = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    hr = hr[:height, :width]
    lr = imresize(hr, 1 / scale)
    output = upscale(lr)
    if output.shape != hr.shape:
        source = display_path(model_path) if model_path is not None else "the model"
        raise UserError(
            f"{source}: turned a {lr.shape[1]}×{lr.shape[0]} input into "
            f"{output.shape[1]}×{output.shape[0]}×{output.shape[2]}, not the "
            f"{width}×{height}×3 of ×{scale}; is --scale right?"
        )
    bicubic = imresize(lr, scale)
    return ImageResult(
        path=path,
        width=width,
        height=height,
        model=sr_scores(output, hr, crop_border=scale),
        bicubic=sr_scores(bicubic, hr, crop_border=scale),
    )


def evaluate_model(
    model_path: PathLike,
    data: PathLike,
    *,
    scale: int | None = None,
    tile_size: int | None = None,
    device: str = "auto",
    limit: int | None = None,
    on_image: Callable[[Path], None] | None = None,
) -> Evaluation:
    """Load an exported SR model and score it on a folder of HR photos (see the module
    notes). ``scale`` defaults to the model's own; a different one is refused, and a model
    whose metadata says ×1 needs ``scale`` given (it is then trusted, and checked against
    the output size)."""
    model_path, data = Path(model_path), Path(data)
    if not model_path.is_file():
        problem = "is a folder, not an .onnx file" if model_path.is_dir() else "file not found"
        raise UserError(f"{display_path(model_path)}: {problem}")
    if scale is not None and scale < 2:
        raise UserError(f"--scale must be 2 or more for super-resolution, got {scale}")
    paths = find_images(data, limit)

    from imagexform.runtime import load_model

    model = load_model(model_path, device=device)
    model_scale = int(model.info.io.scale)
    if model_scale == 1 and scale is None:
        raise UserError(
            f"{display_path(model_path)}: not a super-resolution model (its metadata says "
            "scale 1); if it does upscale, give --scale N"
        )
    if model_scale != 1 and scale is not None and scale != model_scale:
        raise UserError(
            f"{display_path(model_path)}: the model upscales ×{model_scale}, not ×{scale} "
            "(--scale); leave --scale out to use the model's own"
        )
    if model_scale == 1:
        model = load_model(model_path, device=device, scale=scale)
    effective = scale or model_scale

    def upscale(lr: np.ndarray) -> np.ndarray:
        return model.transform(lr, tile_size=tile_size)

    return evaluate_images(
        paths, upscale, effective, data=data, model_path=model_path, on_image=on_image
    )
