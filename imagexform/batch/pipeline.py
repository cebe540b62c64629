"""Decode → model → encode, overlapped so the model never waits on the disk.

``jobs`` threads read and decode, one thread (the caller's) runs the model, ``jobs`` threads
encode and write. Bounded queues between the stages hold at most a few images each, so
memory stays flat however large the folder, and a slow disk only stalls the model once the
decoded-image queue runs dry. OpenCV and onnxruntime release the GIL, so threads overlap for
real. Every failure is caught per file and reported; the run goes on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from imagexform.batch.discover import Source
from imagexform.batch.formats import DEFAULT_QUALITY, conform, encode_output
from imagexform.batch.report import FileResult, describe_error
from imagexform.io.images import decode_image, display_path, read_file_bytes, write_bytes_atomic
from imagexform.io.metadata import ImageMetadata, extract_metadata
from imagexform.io.probe import DEFAULT_MAX_PIXELS, check_pixels, probe_bytes
from imagexform.runtime.adjustments import Adjustments
from imagexform.runtime.tiling import Mode


class Model(Protocol):
    """What the pipeline needs of :class:`imagexform.runtime.RuntimeModel`."""

    def transform(
        self,
        image: np.ndarray,
        conditions: Mapping[str, float | Sequence[float]] | None = None,
        *,
        tile_size: int | None = None,
        overlap: int | None = None,
        adjustments: Adjustments | None = None,
        progress: Callable[[int, int], None] | None = None,
        report: Callable[[Mode], None] | None = None,
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class Task:
    source: Source
    target: Path


@dataclass(frozen=True)
class Settings:
    jobs: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    keep_metadata: bool = True
    quality: int = DEFAULT_QUALITY
    conditions: Mapping[str, Sequence[float]] = field(default_factory=dict)
    adjustments: Adjustments = field(default_factory=Adjustments)
    tile_size: int | None = None
    overlap: int | None = None
    cancel: threading.Event | None = None  # set from outside to stop as Ctrl-C does
    # Where bytes come from and go to: local files, or a store's objects (batch/storage.py).
    read: Callable[[Path], bytes] = read_file_bytes
    write: Callable[[Path, bytes], None] = write_bytes_atomic


class Cancelled(KeyboardInterrupt):
    """A stop asked for through :attr:`Settings.cancel` (the editor's Cancel button): handled
    exactly like Ctrl-C, so what is through the model is still written and nothing partial is."""


@dataclass
class Stats:
    """Where the time went; ``model_wait_seconds`` is how long the model sat idle waiting for
    a decoded image after its first one: near zero when decoding keeps up. ``cpu_seconds``
    (the process's, all threads) tells a CPU-bound run from one waiting on the disk."""

    wall_seconds: float = 0.0
    model_seconds: float = 0.0
    model_wait_seconds: float = 0.0
    decode_seconds: float = 0.0
    encode_seconds: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class _Decoded:
    task: Task
    image: np.ndarray | None  # released once the model has run
    size: tuple[int, int]
    metadata: ImageMetadata
    bytes_in: int
    seconds: float


@dataclass
class _Transformed:
    decoded: _Decoded
    output: np.ndarray
    seconds: float
    tiling: str | None = None  # how the model ran (tiling.Mode.describe), for the report


_DONE = object()
POLL = 0.1  # seconds between checks for a stop request while a queue is full


def put_unless_stopped(channel: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Block until ``channel`` has room, giving up (False) once ``stop`` is set: a stage
    never waits forever on a consumer that has stopped."""
    while True:
        try:
            channel.put(item, timeout=POLL)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def run_pipeline(
    tasks: Sequence[Task],
    model: Model,
    settings: Settings,
    on_result: Callable[[FileResult], None],
) -> Stats:
    """Process ``tasks``, calling ``on_result`` (serialised, from any thread) once per task.

    On KeyboardInterrupt the images already through the model are still written, then the
    interrupt propagates; files not written have no output, not even a partial one.
    """
    return _Pipeline(tasks, model, settings, on_result).run()


class _Pipeline:
    def __init__(
        self,
        tasks: Sequence[Task],
        model: Model,
        settings: Settings,
        on_result: Callable[[FileResult], None],
    ) -> None:
        self.model = model
        self.settings = settings
        self.jobs = max(1, settings.jobs)
        self.todo: queue.SimpleQueue[Task] = queue.SimpleQueue()
        for task in tasks:
            self.todo.put(task)
        depth = max(2, self.jobs)
        self.decoded: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.transformed: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.on_result = on_result
        self.stats = Stats()

    def run(self) -> Stats:
        start = time.perf_counter()
        cpu = time.process_time()
        decoders = [
            threading.Thread(target=self._decode_loop, name=f"decode-{i}", daemon=True)
            for i in range(self.jobs)
        ]
        encoders = [
            threading.Thread(target=self._encode_loop, name=f"encode-{i}", daemon=True)
            for i in range(self.jobs)
        ]
        for thread in decoders + encoders:
            thread.start()
        try:
            self._model_loop(len(decoders))
        except BaseException:
            self.stop.set()
            raise
        finally:
            # Encoders drain what the model finished, so this put cannot block for long.
            for _ in encoders:
                self.transformed.put(_DONE)
            for thread in encoders:
                thread.join()
            self.stats.wall_seconds = time.perf_counter() - start
            self.stats.cpu_seconds = time.process_time() - cpu
        return self.stats

    def _report(self, result: FileResult) -> None:
        with self.lock:
            self.on_result(result)

    def _fail(self, task: Task, exc: BaseException, **known: object) -> None:
        self._report(
            FileResult(
                source=task.source.path,
                relative=display_path(task.source.relative),
                target=task.target,
                status="failed",
                error=describe_error(exc),
                **known,
            )
        )

    def _put(self, channel: queue.Queue[object], item: object) -> bool:
        return put_unless_stopped(channel, item, self.stop)

    def _decode_loop(self) -> None:
        settings = self.settings
        while not self.stop.is_set():
            try:
                task = self.todo.get_nowait()
            except queue.Empty:
                break
            began = time.perf_counter()
            bytes_in = None
            try:
                path = task.source.path
                data = settings.read(path)
                bytes_in = len(data)
                check_pixels(probe_bytes(data), settings.max_pixels, path)
                image = decode_image(data, path)
                metadata = extract_metadata(data) if settings.keep_metadata else ImageMetadata()
            except Exception as exc:
                self._fail(task, exc, bytes_in=bytes_in, seconds=time.perf_counter() - began)
                continue
            seconds = time.perf_counter() - began
            with self.lock:
                self.stats.decode_seconds += seconds
            decoded = _Decoded(task, image, _size(image), metadata, bytes_in, seconds)
            if not self._put(self.decoded, decoded):
                return
        self._put(self.decoded, _DONE)

    def _model_loop(self, producers: int) -> None:
        settings = self.settings
        finished = 0
        started = False
        while finished < producers:
            waiting = time.perf_counter()
            item = self.decoded.get()
            if started:
                self.stats.model_wait_seconds += time.perf_counter() - waiting
            if item is _DONE:
                finished += 1
                continue
            assert isinstance(item, _Decoded) and item.image is not None
            if settings.cancel is not None and settings.cancel.is_set():
                raise Cancelled
            started = True
            began = time.perf_counter()
            modes: list[Mode] = []
            try:
                output = self.model.transform(
                    item.image,
                    settings.conditions or None,
                    tile_size=settings.tile_size,
                    overlap=settings.overlap,
                    adjustments=settings.adjustments,
                    progress=self._stop_if_cancelled if settings.cancel is not None else None,
                    report=modes.append,
                )
            except Exception as exc:
                self._fail(
                    item.task,
                    exc,
                    bytes_in=item.bytes_in,
                    input_size=item.size,
                    seconds=item.seconds + time.perf_counter() - began,
                )
                continue
            seconds = time.perf_counter() - began
            self.stats.model_seconds += seconds
            item.image = None  # the input's pixels are not needed any more
            tiling = modes[-1].describe() if modes else None
            if not self._put(self.transformed, _Transformed(item, output, seconds, tiling)):
                return

    def _stop_if_cancelled(self, done: int, total: int) -> None:
        """Between two tiles: a cancel stops within one tile of a large photo, not after it."""
        assert self.settings.cancel is not None
        if self.settings.cancel.is_set():
            raise Cancelled

    def _encode_loop(self) -> None:
        while True:
            item = self.transformed.get()
            if item is _DONE:
                return
            assert isinstance(item, _Transformed)
            self._encode(item)

    def _encode(self, item: _Transformed) -> None:
        decoded = item.decoded
        task = decoded.task
        began = time.perf_counter()
        known: dict[str, object] = {"bytes_in": decoded.bytes_in, "input_size": decoded.size}
        try:
            image = conform(item.output, task.target.suffix)
            known["output_size"] = _size(image)
            data = encode_output(task.target, image, decoded.metadata, self.settings.quality)
            self.settings.write(task.target, data)
        except Exception as exc:
            seconds = decoded.seconds + item.seconds + time.perf_counter() - began
            self._fail(task, exc, seconds=seconds, **known)
            return
        encode_seconds = time.perf_counter() - began
        with self.lock:
            self.stats.encode_seconds += encode_seconds
        self._report(
            FileResult(
                source=task.source.path,
                relative=display_path(task.source.relative),
                target=task.target,
                status="ok",
                seconds=decoded.seconds + item.seconds + encode_seconds,
                bytes_in=decoded.bytes_in,
                bytes_out=len(data),
                input_size=decoded.size,
                output_size=_size(image),
                tiling=item.tiling,
            )
        )


def _size(image: np.ndarray) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])
