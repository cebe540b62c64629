"""A loaded model and the one call that turns an image into a transformed image."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import onnxruntime as ort

from imagexform.errors import UserError
from imagexform.family import ConditionSpec, IOSpec, TileHints
from imagexform.io.images import display_path
from imagexform.modelinfo import IMAGE_INPUT, OUTPUT, ModelInfo
from imagexform.runtime import memory, processing, tiling
from imagexform.runtime.adjustments import Adjustments
from imagexform.runtime.adjustments import apply as apply_adjustments
from imagexform.runtime.engines import EngineChoice, choose
from imagexform.runtime.modelfile import TensorDescription, inspect_model
from imagexform.runtime.norm_stats import ImageStatistics, ImageWide, read_image_wide
from imagexform.runtime.session import (
    CPU,
    ON_HOST,
    ORT_ERRORS,
    OutOfMemoryError,
    create_session,
    is_out_of_memory,
    ort_message,
)
from imagexform.runtime.tuning import SessionTuning, tuned

log = logging.getLogger(__name__)

ConditionValues = Mapping[str, float | Sequence[float]]
# Edge lengths tried, in order, to find the scale of a model without metadata; 256 serves
# U-Nets that only accept multiples of 256.
_PROBE_SIZES = (64, 256)
PRECISIONS = ("auto", "fp32", "fast")
# Blend width between tiles when the file records its receptive field: tiles then drop the
# field's width at each border and cross-fade over this many pixels.
RECEPTIVE_RAMP = 16
Statistics = Mapping[str, np.ndarray]
_T = TypeVar("_T")


class RuntimeModel:
    """An ONNX model ready to transform images, described by its :class:`ModelInfo`.

    Safe to share between threads: ONNX Runtime sessions run concurrently, and a transform
    keeps all its state in local variables.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        info: ModelInfo,
        path: Path,
        *,
        image_input: TensorDescription,
        output: TensorDescription,
        conditions: Mapping[str, TensorDescription],
    ) -> None:
        self.session = session
        self.info = info
        self.path = path
        self.precision = "fp32"
        self.precision_report: dict[str, object] | None = None
        # Measured session settings (see imagexform.runtime.tuning); None off the CPU.
        self.session_tuning: SessionTuning | None = None
        # Measured ONNX Runtime against OpenVINO (imagexform.runtime.engines); None unmeasured.
        self.engine_choice: EngineChoice | None = None
        self._image = image_input
        self._output = output
        self._conditions = dict(conditions)
        self._specs = {spec.name: spec for spec in info.io.conditions}
        self._fixed = _fixed_size(image_input)
        # Read from the graph at load time; None when the file could not be parsed.
        self.image_wide: ImageWide | None = None
        # Pixels the statistics pass may run on; None decides from free memory.
        self.statistics_limit: int | None = None
        self._statistics: ImageStatistics | None = None
        self._statistics_lock = threading.Lock()

    @property
    def provider(self) -> str:
        """The execution provider actually running the model (after any silent fallback)."""
        return self.session.get_providers()[0]

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """(height, width) when the graph accepts only that input size; tiles then have it."""
        return self._fixed

    @property
    def name(self) -> str:
        return display_path(self.path)

    @property
    def produces_images(self) -> bool:
        """False for models that read an image but answer with a vector (a face-attribute
        classifier): :meth:`run` serves them, :meth:`transform` does not."""
        return len(self._output.shape) == 4

    def require_images(self) -> None:
        if not self.produces_images:
            raise UserError(
                f"{self.name}: this model answers with {self._output.shape[1:] or 'a value'} "
                "per image, not an image, so it cannot transform images"
            )

    def check_conditions(self, conditions: ConditionValues | None) -> dict[str, np.ndarray]:
        """Validated condition vectors, defaults filled in, as float64 arrays of one value per
        label. Call it early to reject bad flags before a long batch starts."""
        given = dict(conditions or {})
        self._reject_unknown(given)
        return {
            name: _condition_vector(self.name, spec, given.get(name))
            for name, spec in self._specs.items()
        }

    def _reject_unknown(self, given: Mapping[str, object]) -> None:
        unknown = sorted(set(given) - set(self._specs))
        if unknown:
            known = ", ".join(self._specs) or "none"
            raise UserError(
                f"{self.name}: unknown condition {', '.join(map(repr, unknown))} "
                f"(this model takes: {known})"
            )

    def feeds(
        self, batch: np.ndarray, conditions: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """What :meth:`run` hands ONNX Runtime, by graph input name; the int8 calibration
        feeds the same to a model under quantisation."""
        feeds = {self._image.name: np.ascontiguousarray(batch, dtype=self._image.dtype)}
        given = dict(conditions or {})
        self._reject_unknown(given)
        for name, graph_input in self._conditions.items():
            if name in given:
                vector = np.asarray(given[name])
            else:
                vector = _condition_vector(self.name, self._specs[name], None)
            feeds[name] = _condition_feed(vector, graph_input, len(batch))
        return feeds

    @property
    def tiles_with_statistics(self) -> bool:
        """Whether tiles take the whole image's normalisation statistics (see
        :mod:`imagexform.runtime.norm_stats`)."""
        return self.image_wide is not None and self.image_wide.found and self.image_wide.supported

    def _statistics_graphs(self) -> ImageStatistics:
        with self._statistics_lock:
            if self._statistics is None:
                self._statistics = ImageStatistics(self.path.read_bytes(), self.session)
            return self._statistics

    def image_statistics(
        self, batch: np.ndarray, conditions: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The statistics of every normalisation layer for ``batch`` (as :meth:`run` takes
        it), to pass to :meth:`run` for tiles of the same image."""
        feeds = self.feeds(batch, conditions)
        return self._guarded(batch, lambda: self._statistics_graphs().gather(feeds))

    def run(
        self,
        batch: np.ndarray,
        conditions: Mapping[str, np.ndarray] | None = None,
        *,
        statistics: Statistics | None = None,
    ) -> np.ndarray:
        """One raw inference: N×C×H×W float in the model's value range and colour order in,
        N×C'×H'×W' float32 out. Missing conditions take their metadata defaults.
        ``statistics`` (from :meth:`image_statistics`) replace the batch's own in every
        normalisation layer."""
        feeds = self.feeds(batch, conditions)
        session = self.session
        if statistics is not None:
            session = self._statistics_graphs().tiles
            feeds.update(statistics)
        (output,) = self._guarded(batch, lambda: session.run([self._output.name], feeds))
        return output.astype(np.float32, copy=False)

    def _guarded(self, batch: np.ndarray, call: Callable[[], _T]) -> _T:
        """``call``'s result, with ONNX Runtime's errors as one-line user errors."""
        try:
            return call()
        except ORT_ERRORS as exc:
            shape = f"{batch.shape[-1]}×{batch.shape[-2]}"
            if is_out_of_memory(exc):
                raise OutOfMemoryError(
                    f"{self.name}: out of memory running the model on {shape} pixels"
                ) from exc
            hint = ""
            if self.info.io.size_multiple == 1 and self._fixed is None:
                hint = "; if it only accepts sizes that are a multiple of N, set size_multiple"
            raise UserError(
                f"{self.name}: the model failed on a {shape} input ({ort_message(exc)}){hint}"
            ) from exc

    def transform(
        self,
        image: np.ndarray,
        conditions: ConditionValues | None = None,
        *,
        tile_size: int | None = None,
        overlap: int | None = None,
        adjustments: Adjustments | None = None,
        progress: tiling.Progress | None = None,
        rows: tiling.Write | None = None,
        report: Callable[[tiling.Mode], None] | None = None,
        statistics: Statistics | None = None,
    ) -> np.ndarray:
        """Transform an H×W×C image as :func:`~imagexform.io.images.read_image` returns it.

        The result has the input's sample type and alpha, at ``scale`` times the size, with
        ``adjustments`` (strength, preserve colour) applied last. ``progress(done, total)``
        hears of every finished tile, and may raise to cancel the transform there.
        ``rows(first, end, samples)`` receives each band of output rows as soon as it is final
        (colour only, before adjustments), so an editor can show a run as it goes.
        ``tile_size`` None picks a tile from free memory (or the model's tile hint), 0 never
        tiles; ``overlap`` defaults to what covers the receptive field the file records (the
        model's tile hint in files without one). Out of memory, the tile is halved and the
        image run again, down to :data:`~imagexform.runtime.memory.MIN_TILE`. ``report``
        hears how the run was tiled (:class:`~imagexform.runtime.tiling.Mode`).
        ``statistics`` (from :meth:`whole_image_statistics` of a larger image) normalise every
        tile, even a single one, so a crop comes out as in the larger image's result.
        """
        self.require_images()
        vectors = self.check_conditions(conditions)
        io = self.info.io
        prepared = processing.prepare(image, io)
        height, width = prepared.pixels.shape[:2]
        overlap, ramp = self._overlap(overlap, tile_size)
        tile = self._initial_tile(tile_size, prepared, overlap if ramp is not None else 0)
        result = self._allocate_result(prepared)
        while True:
            try:
                mode = self._transform_tiled(
                    prepared, vectors, tile, (overlap, ramp), result, progress, rows, statistics
                )
                if report is not None:
                    report(mode)
                return apply_adjustments(image, result, adjustments or Adjustments())
            except (OutOfMemoryError, MemoryError) as exc:
                smaller = self._smaller_tile(tile, height, width, overlap)
                tried = self._tiles_text(height, width, tile, overlap)
                if tile_size == 0 or smaller is None:
                    raise OutOfMemoryError(
                        f"{self.name}: out of memory on a {width}×{height} image even with "
                        f"{tried} tiles; free memory or use a smaller tile size"
                    ) from exc
                log.warning(
                    "%s: out of memory with %s tiles; retrying with %s tiles",
                    self.name,
                    tried,
                    self._tiles_text(height, width, smaller, overlap),
                )
                tile = smaller

    def auto_tile_size(
        self, height: int, width: int, sample_bytes: int = 1, alpha: bool = False
    ) -> int:
        """The tile a transform with ``tile_size=None`` starts with for an image of this size,
        sample size (1 for 8-bit, 2 for 16-bit) and alpha."""
        io = self.info.io
        if self.info.tile.tile_size > 0:
            return self._round_tile(self.info.tile.tile_size)
        if self.provider not in ON_HOST:
            return self._round_tile(memory.GPU_TILE)
        return memory.auto_tile_size(
            height,
            width,
            scale=io.scale,
            channels=io.channels,
            out_channels=io.out_channels,
            multiple=io.size_multiple,
            sample_bytes=sample_bytes,
            alpha=alpha,
        )

    def _initial_tile(
        self, tile_size: int | None, prepared: processing.Prepared, reach_overlap: int = 0
    ) -> int:
        """The tile to start with; with ``reach_overlap`` (the overlap that covers a recorded
        receptive field) at least large enough to keep tiles' centres past both margins."""
        height, width = prepared.pixels.shape[:2]
        if tile_size is not None and tile_size < 0:
            raise UserError(f"tile size must be 0 (no tiling) or positive, not {tile_size}")
        if tile_size == 0:
            return max(height, width)
        if tile_size is None:
            alpha = prepared.alpha is not None
            tile = self.auto_tile_size(height, width, prepared.dtype.itemsize, alpha)
        else:
            tile = self._round_tile(tile_size)
        if reach_overlap:
            tile = max(tile, self._round_tile(2 * reach_overlap + 1 + self.info.io.size_multiple))
        return tile

    def _round_tile(self, tile: int) -> int:
        multiple = self.info.io.size_multiple
        return max(tile // multiple * multiple, multiple)

    def _overlap(self, overlap: int | None, tile_size: int | None) -> tuple[int, int | None]:
        """The overlap, and the blend ramp's width when it is not half the overlap: a file
        that records its receptive field has tiles drop that much at each border."""
        if overlap is None:
            reach = self.info.tile.receptive_field
            if reach > 0:
                return 2 * reach + RECEPTIVE_RAMP, RECEPTIVE_RAMP
            return self.info.tile.overlap, None
        if overlap < 0:
            raise UserError(f"tile overlap must be 0 or more, not {overlap}")
        if tile_size and 2 * overlap + 2 > self._round_tile(tile_size):
            raise UserError(
                f"tile overlap {overlap} is too large for {tile_size}-pixel tiles "
                "(it must be less than half the tile size)"
            )
        return overlap, None

    def _smaller_tile(self, tile: int, height: int, width: int, overlap: int) -> int | None:
        if self._fixed is not None:
            return None
        smaller = self._round_tile(min(tile, max(height, width)) // 2)
        floor = max(memory.MIN_TILE, 2 * overlap + 2)
        return smaller if smaller >= floor and smaller < tile else None

    def _tile_shape(self, height: int, width: int, tile: int, overlap: int) -> tuple[int, int]:
        """The (height, width) of the tiles an image runs in: ``tile`` fitted to each axis."""
        multiple = self.info.io.size_multiple
        return self._fixed or (
            tiling.fit_tile(height, tile, overlap, multiple),
            tiling.fit_tile(width, tile, overlap, multiple),
        )

    def _tiles_text(self, height: int, width: int, tile: int, overlap: int) -> str:
        """The tiles as they really run, for messages: "347-pixel" or "347×512-pixel"."""
        tile_h, tile_w = self._tile_shape(height, width, tile, overlap)
        tile_h, tile_w = min(tile_h, height), min(tile_w, width)
        return f"{tile_h}-pixel" if tile_h == tile_w else f"{tile_w}×{tile_h}-pixel"

    def _allocate_result(self, prepared: processing.Prepared) -> np.ndarray:
        """The output image, allocated before any tile runs: smaller tiles cannot help when
        it does not fit, so that case is reported as such rather than retried."""
        height, width = prepared.pixels.shape[:2]
        scale = self.info.io.scale
        channels = processing.output_channels(prepared, self.info.io)
        shape = (height * scale, width * scale, channels + (prepared.alpha is not None))
        try:
            return np.empty(shape, prepared.dtype)
        except MemoryError:
            size = math.prod(shape) * prepared.dtype.itemsize / 2**30
            raise OutOfMemoryError(
                f"{self.name}: the {shape[1]}×{shape[0]} output image alone needs {size:.1f} GiB, "
                "more than is free"
            ) from None

    def _transform_tiled(
        self,
        prepared: processing.Prepared,
        vectors: Mapping[str, np.ndarray],
        tile: int,
        blend: tuple[int, int | None],
        result: np.ndarray,
        progress: tiling.Progress | None = None,
        rows: tiling.Write | None = None,
        given: Statistics | None = None,
    ) -> tiling.Mode:
        io = self.info.io
        height, width = prepared.pixels.shape[:2]
        scale = io.scale
        colour = processing.output_channels(prepared, io)

        def write(first: int, end: int, band: np.ndarray) -> None:
            result[first:end, :, :colour] = processing.finish(band, prepared, io)
            if rows is not None:
                rows(first, end, result[first:end, :, :colour])

        overlap, ramp = blend
        tile_hw = self._tile_shape(height, width, tile, overlap)
        # The blend ramps need tiles wider than two overlaps; a model hint that is not is
        # narrowed rather than refused, since the user never asked for it.
        align = 1 if self._fixed else io.size_multiple
        overlap = min(overlap, max(min(tile_hw) - 2, 0) // 2, max(min(tile_hw) - align, 0))
        tiles = tiling.count_tiles(height, width, tile_hw, overlap, align)
        statistics, source = self._tile_statistics(prepared.pixels, vectors, tiles, given)
        tiling.run_tiled(
            prepared.pixels,
            lambda pixels: self._infer(pixels, vectors, statistics),
            write,
            tile=tile_hw,
            overlap=overlap,
            scale=scale,
            progress=progress,
            ramp=ramp,
            align=align,
        )
        if prepared.alpha is not None:
            result[:, :, colour] = processing.resize_alpha(
                prepared.alpha, height * scale, width * scale
            )
        return tiling.Mode(
            tiles, (min(tile_hw[0], height), min(tile_hw[1], width)), overlap, source
        )

    def whole_image_statistics(
        self, image: np.ndarray, conditions: ConditionValues | None = None
    ) -> Statistics | None:
        """The image-wide statistics of ``image`` (as :meth:`transform` takes it), to pass as
        ``transform(statistics=...)`` for any crop of it: the crop then comes out as it does
        in the whole image's result. None for models without such statistics."""
        if not self.tiles_with_statistics:
            return None
        prepared = processing.prepare(image, self.info.io)
        return self._measure_statistics(prepared.pixels, self.check_conditions(conditions))[0]

    def _tile_statistics(
        self,
        pixels: np.ndarray,
        vectors: Mapping[str, np.ndarray],
        tiles: int,
        given: Statistics | None,
    ) -> tuple[Statistics | None, str]:
        """The image-wide statistics every tile is normalised with, and where they came from."""
        wide = self.image_wide
        if given is not None and self.tiles_with_statistics:
            return given, "statistics given (of the whole photo)"
        if tiles == 1 or wide is None or not wide.found:
            return None, ""
        if not wide.supported:
            return None, f"per-tile statistics ({', '.join(sorted(wide.ops))} not supported)"
        try:
            self._statistics_graphs()
        except (*ORT_ERRORS, ValueError) as exc:  # a graph our rewrite does not fit
            log.warning("%s: cannot tile with image-wide statistics (%s)", self.name, exc)
            return None, "per-tile statistics (the graph could not be rewritten)"
        return self._measure_statistics(pixels, vectors)

    def _measure_statistics(
        self, pixels: np.ndarray, vectors: Mapping[str, np.ndarray]
    ) -> tuple[Statistics, str]:
        """Exact when the statistics pass fits in memory on the whole image (it sees what an
        untiled run sees, padding included); otherwise estimated on an area-averaged copy as
        large as fits (see :func:`~imagexform.runtime.memory.whole_image_pixels`)."""
        limit = self.statistics_limit or memory.whole_image_pixels()
        while True:
            reduced = self._statistics_copy(pixels, limit)
            try:
                statistics = self.image_statistics(self._model_input(reduced)[0], vectors)
            except (OutOfMemoryError, MemoryError):
                if limit <= memory.MIN_TILE**2:
                    raise
                limit //= 4
                log.warning("%s: out of memory in the statistics pass; retrying smaller", self.name)
                continue
            if reduced.shape == pixels.shape:
                return statistics, "whole-image statistics"
            size = f"{reduced.shape[1]}×{reduced.shape[0]}"
            return statistics, f"image-wide statistics estimated on a {size} copy"

    def _statistics_copy(self, pixels: np.ndarray, limit: int) -> np.ndarray:
        """``pixels``, shrunk (area-averaged) to at most ``limit`` pixels or to the model's
        fixed size."""
        height, width = pixels.shape[:2]
        if self._fixed is not None:
            size = self._fixed
        elif height * width <= limit:
            return pixels
        else:
            factor = math.sqrt(limit / (height * width))
            size = (max(int(height * factor), 1), max(int(width * factor), 1))
        if size == (height, width):
            return pixels
        shrunk = cv2.resize(pixels, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return shrunk.reshape(size[0], size[1], pixels.shape[2])

    def _model_input(self, pixels: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """An H×W×C image as the 1×C×H'×W' batch the model accepts (mirror-padded to its
        size multiple or fixed size), and that padded size."""
        height, width = pixels.shape[:2]
        multiple = self.info.io.size_multiple
        target = self._fixed or (
            math.ceil(height / multiple) * multiple,
            math.ceil(width / multiple) * multiple,
        )
        padded = processing.pad_to(pixels, *target)
        return padded.transpose(2, 0, 1)[None], target

    def _infer(
        self,
        pixels: np.ndarray,
        vectors: Mapping[str, np.ndarray],
        statistics: Statistics | None = None,
    ) -> np.ndarray:
        """The model on one H×W×C tile: padded to what the model accepts, then cropped back."""
        height, width = pixels.shape[:2]
        batch, target = self._model_input(pixels)
        output = self.run(batch, vectors, statistics=statistics)[0]
        scale = self.info.io.scale
        expected = (target[0] * scale, target[1] * scale)
        if output.shape[1:] != expected:
            raise UserError(
                f"{self.name}: the model turned a {target[1]}×{target[0]} input into "
                f"{output.shape[2]}×{output.shape[1]}, not {expected[1]}×{expected[0]} as "
                f"scale {scale} says; set the right scale"
            )
        return output[:, : height * scale, : width * scale].transpose(1, 2, 0)


def load_model(
    path: str | Path,
    *,
    device: str = "auto",
    threads: int = 0,
    value_range: tuple[float, float] | None = None,
    scale: int | None = None,
    size_multiple: int | None = None,
    precision: str = "fp32",
    calibration: Sequence[np.ndarray] | None = None,
) -> RuntimeModel:
    """Open an ONNX model for inference.

    Models exported by imagexform describe themselves; any other image-to-image ONNX model runs
    with defaults (value range 0..1, scale measured on a probe image) that the keyword arguments
    override. ``precision="fast"`` runs a bf16 or int8 version on the CPU (int8 on ONNX Runtime
    or OpenVINO) when one is at least 40 dB PSNR from the fp32 output on the ``calibration``
    images and faster; it is prepared the first time (int8 needs the ``onnx`` package) and
    cached per model file and machine (see :mod:`imagexform.runtime.quantize`); ``"auto"`` uses
    such a verdict when one was prepared before, else fp32. An fp32 model on the CPU runs with
    session settings measured for it (:mod:`imagexform.runtime.tuning`, cached per model and
    machine); with ``device="auto"`` on a CPU it runs on OpenVINO where that is installed and
    measured faster (:mod:`imagexform.runtime.engines`); ``device="openvino"`` always does.
    """
    path = Path(path)
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    name = display_path(path)
    described = inspect_model(path)
    inputs = _feedable(name, described.inputs)
    outputs = _feedable(name, described.outputs)
    info = described.info
    session = create_session(path, device, threads)
    foreign = info is None
    if info is None:
        image_input = _foreign_image_input(name, inputs)
        info = _foreign_info(path, image_input, outputs)
    else:
        image_input = inputs.get(IMAGE_INPUT)
        if image_input is None:
            raise UserError(
                f"{name}: the graph has no input named {IMAGE_INPUT!r} "
                f"(its inputs: {', '.join(inputs)})"
            )
    output = outputs.get(OUTPUT) or next(iter(outputs.values()))
    info = _override(name, info, value_range, scale, size_multiple, len(output.shape) == 4)
    conditions = _condition_inputs(name, info, inputs, image_input)
    model = RuntimeModel(
        session, info, path, image_input=image_input, output=output, conditions=conditions
    )
    model.image_wide = read_image_wide(path.read_bytes())
    if foreign and scale is None:
        model.info = _probe_scale(model)
    return _fastest(model, device, threads, precision, calibration)


def _fastest(
    model: RuntimeModel,
    device: str,
    threads: int,
    precision: str,
    calibration: Sequence[np.ndarray] | None,
) -> RuntimeModel:
    """``model`` as it runs fastest within ``precision``: a fast (bf16/int8) version where one
    is asked for or was prepared, else on the measured engine and session settings."""
    if precision != "fp32":
        from imagexform.runtime.quantize import fast_model

        cached_only = precision == "auto"
        fast = fast_model(model, calibration, threads, cached_only=cached_only)
        if fast is not model:
            return fast
    if model.provider != CPU:
        return model
    chosen = choose(model, threads) if device == "auto" else model
    return tuned(model, threads) if chosen is model else chosen


def _feedable(name: str, tensors: Sequence[TensorDescription]) -> dict[str, TensorDescription]:
    """The graph tensors by name, refusing types imagexform cannot feed or read."""
    for tensor in tensors:
        if tensor.dtype is None:
            raise UserError(
                f"{name}: graph tensor {tensor.name!r} has type {tensor.element_type}, which "
                "imagexform cannot feed or read"
            )
    return {tensor.name: tensor for tensor in tensors}


def _foreign_image_input(name: str, inputs: Mapping[str, TensorDescription]) -> TensorDescription:
    images = [tensor for tensor in inputs.values() if len(tensor.shape) == 4]
    if len(images) != 1:
        raise UserError(
            f"{name}: has no imagexform metadata and {len(images)} four-dimensional inputs; "
            "cannot tell which one is the image"
        )
    others = sorted(set(inputs) - {images[0].name})
    if others:
        raise UserError(
            f"{name}: has no imagexform metadata describing its extra inputs ({', '.join(others)})"
        )
    return images[0]


def _foreign_info(
    path: Path, image_input: TensorDescription, outputs: Mapping[str, TensorDescription]
) -> ModelInfo:
    """Defaults for a model without our metadata: the common 0..1 range and RGB."""
    output = outputs.get(OUTPUT) or next(iter(outputs.values()))
    channels = image_input.shape[1] if isinstance(image_input.shape[1], int) else 3
    out_shape = output.shape
    out_channels = out_shape[1] if len(out_shape) == 4 and isinstance(out_shape[1], int) else 3
    return ModelInfo(
        family="foreign",
        io=IOSpec(value_range=(0.0, 1.0), channels=channels, out_channels=out_channels),
        title=path.stem,
        tile=TileHints(),
    )


def _override(
    name: str,
    info: ModelInfo,
    value_range: tuple[float, float] | None,
    scale: int | None,
    size_multiple: int | None,
    image_output: bool = True,
) -> ModelInfo:
    changes: dict[str, object] = {}
    if value_range is not None:
        low, high = (float(v) for v in value_range)
        if not (math.isfinite(low) and math.isfinite(high)) or low == high:
            raise UserError(f"value range {value_range} must be two different finite numbers")
        changes["value_range"] = (low, high)
    if scale is not None:
        if scale < 1:
            raise UserError(f"scale must be a positive integer, not {scale}")
        changes["scale"] = int(scale)
    if size_multiple is not None:
        if size_multiple < 1:
            raise UserError(f"size multiple must be a positive integer, not {size_multiple}")
        changes["size_multiple"] = int(size_multiple)
    io = dataclasses.replace(info.io, **changes)
    if io.channels not in (1, 3) or (image_output and io.out_channels not in (1, 3)):
        raise UserError(
            f"{name}: models with {io.channels} input and {io.out_channels} output channels "
            "are not supported (1 or 3 each)"
        )
    return dataclasses.replace(info, io=io)


def _condition_inputs(
    name: str,
    info: ModelInfo,
    inputs: Mapping[str, TensorDescription],
    image_input: TensorDescription,
) -> dict[str, TensorDescription]:
    declared = {spec.name for spec in info.io.conditions}
    missing = sorted(declared - set(inputs))
    if missing:
        raise UserError(
            f"{name}: the metadata declares condition input(s) {', '.join(missing)} that the "
            "graph does not have"
        )
    extra = sorted(set(inputs) - declared - {image_input.name})
    if extra:
        raise UserError(
            f"{name}: the graph has input(s) {', '.join(extra)} that the metadata does not declare"
        )
    return {spec.name: inputs[spec.name] for spec in info.io.conditions}


def _fixed_size(image_input: TensorDescription) -> tuple[int, int] | None:
    height, width = image_input.shape[2:4]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return height, width
    return None


def _probe_scale(model: RuntimeModel) -> ModelInfo:
    """Run a blank image through a foreign model to learn its scale; 1 when no probe runs."""
    io = model.info.io
    sizes = [model.fixed_size] if model.fixed_size else [(size, size) for size in _PROBE_SIZES]
    for height, width in sizes:
        probe = np.zeros((1, io.channels, height, width), np.float32)
        try:
            output = model.run(probe)
        except UserError:
            continue
        scale = output.shape[2] // height
        if scale >= 1 and output.shape[2:] == (height * scale, width * scale):
            io = dataclasses.replace(io, scale=scale, out_channels=output.shape[1])
            return dataclasses.replace(model.info, io=io)
    log.warning("%s: could not measure the model's scale; assuming 1", model.name)
    return model.info


def _condition_vector(model: str, spec: ConditionSpec, value: object) -> np.ndarray:
    count = len(spec.labels) or len(spec.defaults) or 1
    labels = spec.labels or tuple(f"{spec.name}[{i}]" for i in range(count))
    low, high = spec.value_range
    if value is None:
        # Without defaults, the low end: "off" for attribute vectors, as the batch flags assume.
        value = spec.defaults if len(spec.defaults) == count else [low] * count
    try:
        vector = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise UserError(
            f"{model}: condition {spec.name!r} must be numbers, not {value!r}"
        ) from None
    if vector.size != count:
        raise UserError(
            f"{model}: condition {spec.name!r} takes {count} value(s) ({', '.join(labels)}), "
            f"got {vector.size}"
        )
    for label, number in zip(labels, vector, strict=True):
        if not (math.isfinite(number) and low <= number <= high):
            raise UserError(
                f"{model}: condition {spec.name!r} value {label}={number:g} is outside the "
                f"allowed range {low:g} to {high:g}"
            )
    return vector


def _condition_feed(vector: np.ndarray, graph_input: TensorDescription, batch: int) -> np.ndarray:
    """Shape a condition for its graph input: (N, K), (N, K, 1, 1), (K,) or a scalar."""
    rank = len(graph_input.shape)
    vector = np.asarray(vector, dtype=graph_input.dtype)
    if rank == 0:
        return vector.reshape(())
    if rank == 1:
        return vector.reshape(-1)
    rows = vector.reshape(-1, vector.shape[-1]) if vector.ndim > 1 else vector.reshape(1, -1)
    if len(rows) != batch:
        rows = np.repeat(rows[:1], batch, axis=0)
    return np.ascontiguousarray(rows.reshape(batch, -1, *([1] * (rank - 2))))
