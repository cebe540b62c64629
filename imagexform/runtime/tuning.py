"""ONNX Runtime session settings measured per model instead of guessed: flushing denormal
numbers to zero.

Denormals (floats below 1.2e-38) take a slow microcode path on x86, so flushing them can speed
up a network whose activations decay into that range; but a network whose values pass through
it would compute something else. So on first load each model runs its probe image both ways,
interleaved: it is flushed only when every flushed output is unchanged as it would be saved
(within half a step of 8-bit output) and the flushed runs are measurably faster
(:data:`MIN_SPEEDUP`). The verdict is cached per model file and machine
(:mod:`imagexform.runtime.cache`).

ONNX Runtime applies the first session's setting to the thread that created it for the whole
process (numpy on that thread included), so only a session's own worker threads flush (see
:func:`imagexform.runtime.session.create_session`): the share of the work they take varies from
run to run, hence every timed run's output is checked. Measured with
``benchmarks/runtime_session_tuning.py`` on the 2-core development CPU: no gain on the shipped
×4 upscaler, the junyanz ResNet-9 or U-Net (0.92-1.06×). The 1.45× on the U-Net recorded
earlier came from the contender timed before it, whose worker threads still spun.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from imagexform.io.digest import file_sha256
from imagexform.runtime.cache import cache_dir, machine_key, read_record, write_record
from imagexform.runtime.session import create_session

if TYPE_CHECKING:
    from imagexform.runtime.model import RuntimeModel

log = logging.getLogger(__name__)

VERSION = 1
# Largest difference, in output value ranges, that leaves every 8-bit output pixel as it was.
UNCHANGED = 0.5 / 255
# Timing noise between two equal sessions on the shared 2-core machine reached ±10%.
MIN_SPEEDUP = 1.15
_ROUNDS = 3  # first load of a CycleGAN-size model: ~8 runs of 0.7 s per verdict
_V = TypeVar("_V")


@dataclass(frozen=True)
class SessionTuning:
    """The measured verdict for one model on one machine."""

    flush_denormals: bool
    max_difference: float  # flushed against plain output, in output value ranges
    speedup: float  # plain time over flushed time on the probe


def tuned(model: RuntimeModel, threads: int) -> RuntimeModel:
    """``model`` on a session with the settings measured best for it (from the cache after the
    first time); ``model`` itself when they are the defaults."""
    verdict = tuning_for(model, threads)
    model.session_tuning = verdict
    if not verdict.flush_denormals:
        return model
    flushed = copy.copy(model)
    flushed.session = create_session(model.path, "cpu", threads, flush_denormals=True)
    return flushed


def tuning_for(model: RuntimeModel, threads: int) -> SessionTuning:
    """The cached verdict for ``model`` on this machine, measuring it the first time."""
    return cached(SessionTuning, "session", model, lambda: measure(model, threads))


def cached(kind: type[_V], folder: str, model: RuntimeModel, measure_it: Callable[[], _V]) -> _V:
    """The verdict of dataclass ``kind`` cached for ``model``'s file on this machine under
    ``folder``, from ``measure_it()`` the first time (or when the record is unreadable)."""
    found = read_cached(kind, folder, model.path)
    if found is not None:
        return found
    verdict = measure_it()
    write_record(_record_path(folder, model.path), asdict(verdict))  # type: ignore[call-overload]
    log.info("%s: %s verdict %s", model.name, folder, verdict)
    return verdict


def read_cached(kind: type[_V], folder: str, model_path: Path) -> _V | None:
    """The verdict cached for the model file on this machine; None when there is none."""
    record = read_record(_record_path(folder, model_path))
    if record is None:
        return None
    try:
        return kind(**record)
    except TypeError:
        return None


def _record_path(folder: str, model_path: Path) -> Path:
    name = f"{file_sha256(model_path)}.{machine_key()}.v{VERSION}.json"
    return cache_dir() / folder / name


def measure(model: RuntimeModel, threads: int) -> SessionTuning:
    """Run the probe through ``model``'s plain session and a flushed one."""
    flushed = copy.copy(model)
    flushed.session = create_session(model.path, "cpu", threads, flush_denormals=True)
    difference, speedup, _ = compare(model, flushed, probe(model))
    flush = difference <= UNCHANGED and speedup >= MIN_SPEEDUP
    return SessionTuning(flush, difference, speedup)


def compare(
    base: RuntimeModel, candidate: RuntimeModel, batch: np.ndarray
) -> tuple[float, float, float]:
    """The largest difference of any of ``candidate``'s outputs from ``base``'s, in output
    value ranges; ``base``'s time over ``candidate``'s (interleaved runs, the ratio of the
    fastest, the least disturbed on a shared machine); and ``base``'s fastest run in seconds."""
    reference = base.run(batch)
    candidate.run(batch)
    times: list[list[float]] = [[], []]
    difference = 0.0
    for _ in range(_ROUNDS):
        for index, contender in enumerate((base, candidate)):
            start = time.perf_counter()
            output = contender.run(batch)
            times[index].append(time.perf_counter() - start)
            difference = max(difference, float(np.max(np.abs(output - reference))))
    low, high = base.info.io.value_range
    speedup = min(times[0]) / max(min(times[1]), 1e-9)
    return round(difference / (high - low), 6), round(speedup, 2), round(min(times[0]), 5)


def probe(model: RuntimeModel) -> np.ndarray:
    """A smooth image with fine texture at the size users feed the model (256², 64² for
    upscalers, whose work grows with the square of the scale), in its value range."""
    io = model.info.io
    edge = 64 if io.scale > 1 else 256
    height, width = model.fixed_size or (-(-edge // io.size_multiple) * io.size_multiple,) * 2
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = [np.sin(rows / (5 + c)) * np.cos(cols / (7 + 2 * c)) for c in range(io.channels)]
    unit = 0.5 + 0.25 * np.stack(waves) + 0.2 * (rows + cols) / (height + width) - 0.1
    low, high = io.value_range
    return (low + (high - low) * np.clip(unit, 0, 1))[None].astype(np.float32)
