"""What a run of the model does inside a job: the whole image (Apply), the visible region
(preview), and asking the attribute classifier for slider presets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from imagexform.app.jobs import Job, ModelCache
from imagexform.app.qimages import to_qimage
from imagexform.runtime import Adjustments
from imagexform.runtime.processing import prepare

CLASSIFIER_EDGE = 512  # the photo is shrunk to this before classifying: faces need no more


@dataclass(frozen=True)
class RunRequest:
    path: Path
    device: str = "auto"
    conditions: Mapping[str, Sequence[float]] = field(default_factory=dict)
    adjustments: Adjustments = field(default_factory=Adjustments)
    tile_size: int | None = None


@dataclass(frozen=True)
class Band:
    """Finished output rows ``first..end`` of a running Apply, for the live view.

    ``scale`` is output pixels per input pixel as the run produced them, not as metadata
    says: a model without metadata, or an output scale set by the user, still lands its
    band on the right rows of the photo."""

    first: int
    end: int
    image: object  # QImage; built in the worker so the GUI thread only paints it
    scale: float


def transform(job: Job, cache: ModelCache, request: RunRequest, image: np.ndarray) -> np.ndarray:
    """The model's output for the whole image, with each band of finished rows shown as it
    comes (:class:`Band`)."""
    model = cache.get(request.path, request.device)
    job.partial.emit(model.provider)

    def rows(first: int, end: int, samples: np.ndarray) -> None:
        scale = samples.shape[1] / image.shape[1]
        job.partial.emit(Band(first, end, to_qimage(samples), scale))

    return model.transform(
        image,
        dict(request.conditions) or None,
        tile_size=request.tile_size,
        adjustments=request.adjustments,
        progress=job.report,
        rows=rows,
    )


def preview(
    job: Job,
    cache: ModelCache,
    request: RunRequest,
    image: np.ndarray,
    region: tuple[int, int, int, int],
    screen_scale: float,
) -> np.ndarray:
    """The model's output for ``region`` (x, y, width, height) of ``image``, at no more than
    the resolution the screen shows it at (``screen_scale`` screen pixels per image pixel).

    Zoomed out, the region is shrunk before the model runs, so previewing a whole 12-MP
    photo costs what a screenful does; at 100% and closer it runs at full resolution. A
    margin of the model's tile overlap around the region keeps its edges as they will be in
    the full result rather than like an image border.
    """
    model = cache.get(request.path, request.device)
    job.partial.emit(model.provider)
    x, y, width, height = region
    margin = model.info.tile.overlap
    x0, y0 = max(x - margin, 0), max(y - margin, 0)
    x1 = min(x + width + margin, image.shape[1])
    y1 = min(y + height + margin, image.shape[0])
    source = image[y0:y1, x0:x1]
    shrink = min(1.0, screen_scale / model.info.io.scale)
    if shrink < 1.0:
        size = (max(round(source.shape[1] * shrink), 1), max(round(source.shape[0] * shrink), 1))
        source = resize(source, size)
    result = model.transform(
        source,
        dict(request.conditions) or None,
        tile_size=request.tile_size,
        adjustments=request.adjustments,
        progress=job.report,
    )
    per_pixel = result.shape[1] / (x1 - x0)  # result pixels per image pixel
    left, top = round((x - x0) * per_pixel), round((y - y0) * per_pixel)
    right, bottom = left + round(width * per_pixel), top + round(height * per_pixel)
    return np.ascontiguousarray(result[top:bottom, left:right])


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaged shrinking that keeps a single channel's axis (OpenCV drops it)."""
    shrunk = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return shrunk.reshape(size[1], size[0], *image.shape[2:])


def classify(job: Job, cache: ModelCache, path: Path, device: str, image: np.ndarray) -> np.ndarray:
    """The classifier's probability per label for the photo."""
    model = cache.get(path, device)
    job.partial.emit(model.provider)
    height, width = image.shape[:2]
    factor = CLASSIFIER_EDGE / max(height, width)
    if factor < 1:
        image = resize(image, (max(round(width * factor), 1), max(round(height * factor), 1)))
    pixels = prepare(image, model.info.io).pixels
    return model.run(pixels.transpose(2, 0, 1)[None])[0]
