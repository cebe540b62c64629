"""What a run of the model does inside a job: the whole image (Apply), the visible region
(preview), and asking the attribute classifier for slider presets."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from imagexform.app.jobs import Job, ModelCache
from imagexform.app.qimages import to_qimage
from imagexform.runtime import Adjustments, RuntimeModel
from imagexform.runtime.model import Statistics
from imagexform.runtime.processing import prepare

CLASSIFIER_EDGE = 512  # the photo is shrunk to this before classifying: faces need no more


@dataclass(frozen=True)
class RunRequest:
    path: Path
    device: str = "auto"
    conditions: Mapping[str, Sequence[float]] = field(default_factory=dict)
    adjustments: Adjustments = field(default_factory=Adjustments)
    tile_size: int | None = None
    fast_preview: bool = False  # previews run at precision "fast"; Apply stays fp32


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
    margin of the model's receptive field (its tile overlap in files that do not record
    one) around the region keeps its edges as they will be in the full result rather than
    like an image border, and a model with image-wide statistics (instance norm) normalises
    the region with the whole photo's, so the preview is the crop of the full result.
    With ``fast_preview`` the model runs at the fastest precision within 40 dB of fp32 (bf16
    or int8), prepared from this photo the first time for this model and machine.
    """
    if request.fast_preview:
        model = cache.get(request.path, request.device, "fast", calibration=[image])
    else:
        model = cache.get(request.path, request.device)
    job.partial.emit(model.provider)
    x, y, width, height = region
    margin = model.info.tile.receptive_field or model.info.tile.overlap
    # On the network's grid: a model that downsamples by 4 sees a crop starting 2 pixels
    # off it as a different image.
    multiple = model.info.io.size_multiple
    x0, y0 = max(x - margin, 0) // multiple * multiple, max(y - margin, 0) // multiple * multiple
    x1 = min(x + width + margin, image.shape[1])
    y1 = min(y + height + margin, image.shape[0])
    source = image[y0:y1, x0:x1]
    shrink = min(1.0, screen_scale / model.info.io.scale)
    if shrink < 1.0:
        source = resize(source, _shrunk(source, shrink))
    result = model.transform(
        source,
        dict(request.conditions) or None,
        tile_size=request.tile_size,
        adjustments=request.adjustments,
        progress=job.report,
        statistics=PHOTO_STATISTICS.get(model, request, image, shrink),
    )
    per_pixel = result.shape[1] / (x1 - x0)  # result pixels per image pixel
    left, top = round((x - x0) * per_pixel), round((y - y0) * per_pixel)
    right, bottom = left + round(width * per_pixel), top + round(height * per_pixel)
    return np.ascontiguousarray(result[top:bottom, left:right])


def _shrunk(image: np.ndarray, factor: float) -> tuple[int, int]:
    return max(round(image.shape[1] * factor), 1), max(round(image.shape[0] * factor), 1)


class PhotoStatistics:
    """The whole photo's image-wide statistics for the last model, conditions and zoom
    previewed. Panning and changing strength reuse them; the statistics pass costs about
    one untiled run of the model on the photo (shrunk as the preview is when zoomed out),
    which only models with instance norm pay, once per photo, model and conditions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._photo: np.ndarray | None = None  # held so that its id stays its own
        self._value: Statistics | None = None

    def get(
        self, model: RuntimeModel, request: RunRequest, photo: np.ndarray, shrink: float
    ) -> Statistics | None:
        if not model.tiles_with_statistics:
            return None
        conditions = tuple(sorted((k, tuple(v)) for k, v in request.conditions.items()))
        key = (id(photo), photo.shape, request.path, request.device, conditions, shrink)
        with self._lock:
            if key != self._key or self._photo is not photo:
                whole = photo if shrink >= 1.0 else resize(photo, _shrunk(photo, shrink))
                self._value = model.whole_image_statistics(whole, dict(request.conditions) or None)
                self._key, self._photo = key, photo
            return self._value


PHOTO_STATISTICS = PhotoStatistics()


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
