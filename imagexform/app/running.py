"""What a run of the model does inside a job: the whole image (Apply) or the visible region
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
    """Finished output rows ``first..end`` of a running Apply, for the live view."""

    first: int
    end: int
    image: object  # QImage; built in the worker so the GUI thread only paints it


def transform(
    job: Job,
    cache: ModelCache,
    request: RunRequest,
    image: np.ndarray,
    region: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """The model's output for ``image``, or for ``region`` (x, y, width, height) of it.

    A region is run with a margin of the model's tile overlap around it, so its edges look as
    they will in the full result rather than like an image border.
    """
    model = cache.get(request.path, request.device)
    job.partial.emit(model.provider)
    scale = model.info.io.scale
    source, crop = image, None
    if region is not None:
        x, y, width, height = region
        margin = model.info.tile.overlap
        x0, y0 = max(x - margin, 0), max(y - margin, 0)
        x1 = min(x + width + margin, image.shape[1])
        y1 = min(y + height + margin, image.shape[0])
        source = image[y0:y1, x0:x1]
        top, left = (y - y0) * scale, (x - x0) * scale
        crop = (slice(top, top + height * scale), slice(left, left + width * scale))

    def rows(first: int, end: int, samples: np.ndarray) -> None:
        job.partial.emit(Band(first, end, to_qimage(samples)))

    result = model.transform(
        source,
        dict(request.conditions) or None,
        tile_size=request.tile_size,
        adjustments=request.adjustments,
        progress=job.report,
        rows=rows if region is None else None,
    )
    return result if crop is None else np.ascontiguousarray(result[crop])


def classify(job: Job, cache: ModelCache, path: Path, device: str, image: np.ndarray) -> np.ndarray:
    """The classifier's probability per label for the photo."""
    model = cache.get(path, device)
    job.partial.emit(model.provider)
    height, width = image.shape[:2]
    factor = CLASSIFIER_EDGE / max(height, width)
    if factor < 1:
        size = (max(round(width * factor), 1), max(round(height * factor), 1))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    pixels = prepare(image, model.info.io).pixels
    return model.run(pixels.transpose(2, 0, 1)[None])[0]
