"""One video through the model: decode → model → encode as three overlapped stages with at
most a few frames in flight, written as segments so that a killed run resumes.

The decoder and the encoder run in their own threads (FFmpeg and onnxruntime release the
GIL), the model in the caller's, joined by queues of :data:`QUEUE_DEPTH` frames, so memory
stays flat however long the video and however large its frames. Every
``--segment-seconds`` of output becomes a complete file in a hidden folder beside the target
(batch/segments.py) that appears only when finished; a rerun of the same command finds the
complete segments and starts the model after the last one. When all are done they are
joined, without re-encoding, with the input's audio and subtitles into the target, which
appears only then; the folder is removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from imagexform.batch.pipeline import (
    POLL,
    Cancelled,
    Model,
    Settings,
    Stats,
    Task,
    put_unless_stopped,
    run_pipeline,
)
from imagexform.batch.report import FileResult, describe_error
from imagexform.batch.segments import SegmentFolder
from imagexform.batch.smoothing import TemporalSmoother
from imagexform.batch.video_options import parse_bitrate
from imagexform.errors import UserError
from imagexform.io.images import display_path
from imagexform.io.video import (
    DecodedFrame,
    DecodeEnd,
    EncodeSpec,
    SegmentWriter,
    VideoInfo,
    Window,
    assemble,
    check_frame_pixels,
    decode_frames,
    describe,
    even_size,
    is_video_name,
    media_duration,
    output_container,
    probe_video,
)

QUEUE_DEPTH = 2  # frames waiting between two stages
# Decoded and waiting, in the model, transformed and waiting, in the encoder, plus one the
# decoder holds while the queue is full: never more than this many frames exist at once.
MAX_IN_FLIGHT = 2 * QUEUE_DEPTH + 3
DEFAULT_SEGMENT_SECONDS = 10.0


@dataclass(frozen=True)
class VideoSettings:
    encode: EncodeSpec = field(default_factory=EncodeSpec)
    frames: tuple[int, int | None] | None = None  # --frames A:B, B exclusive
    smoothing: float = 0.0  # --temporal-smoothing; 0 is off
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS
    # (done, total) per frame; execute_batch sets it from BatchObserver.on_frame (the editor)
    on_frame: Callable[[int, int], None] | None = None


def parse_frames(text: str) -> tuple[int, int | None]:
    """``A:B`` (B exclusive, either may be empty) as (A, B or None)."""
    first, sep, last = text.partition(":")
    try:
        start = int(first) if first else 0
        stop = int(last) if last else None
    except ValueError:
        start, stop, sep = -1, None, ""
    if not sep or start < 0 or (stop is not None and stop <= start):
        raise UserError(f"--frames {text!r}: expected A:B with 0 ≤ A < B, e.g. 0:48")
    return start, stop


def video_settings(
    video_codec: str = "h264",
    crf: int | None = None,
    video_bitrate: str | None = None,
    pix_fmt: str | None = None,
    video_preset: str | None = None,
    frames: str | None = None,
    temporal_smoothing: float = 0.0,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
) -> VideoSettings:
    """The command line's video options as settings (see batch/video_options.py)."""
    if crf is not None and video_bitrate is not None:
        raise UserError("--crf and --video-bitrate: give one or the other")
    encode = EncodeSpec(video_codec, crf, parse_bitrate(video_bitrate), pix_fmt, video_preset)
    return VideoSettings(
        encode=encode,
        frames=parse_frames(frames) if frames else None,
        smoothing=temporal_smoothing,
        segment_seconds=segment_seconds,
    )


def video_suffix(spec: EncodeSpec) -> Callable[[Path], str | None]:
    """For :func:`~imagexform.batch.plan.plan`: a video's output extension under ``spec``
    (its own container when that can carry the codec), None for an image."""

    @functools.cache
    def by_suffix(suffix: str) -> str:
        return output_container(Path(f"video{suffix}"), spec)

    def suffix_of(path: Path) -> str | None:
        return by_suffix(path.suffix) if is_video_name(path) else None

    return suffix_of


def describe_source(path: Path) -> str:
    """For --dry-run: what a video holds ("" for an image, the problem for a bad video)."""
    if not is_video_name(path):
        return ""
    try:
        return f" ({describe(probe_video(path))})"
    except UserError as exc:
        return f" (cannot read: {describe_error(exc)})"


def report_settings(video: VideoSettings) -> dict[str, Any]:
    """The report's ``settings.video``: what shapes the output, not the callbacks."""
    return {
        **asdict(video.encode),
        "frames": list(video.frames) if video.frames else None,
        "temporal_smoothing": video.smoothing,
        "segment_seconds": video.segment_seconds,
    }


def run_tasks(
    tasks: Sequence[Task],
    model: Model,
    settings: Settings,
    video: VideoSettings,
    on_result: Callable[[FileResult], None],
) -> Stats:
    """Images through the image pipeline, then videos one at a time through this one."""
    images = [t for t in tasks if not is_video_name(t.source.path)]
    videos = [t for t in tasks if is_video_name(t.source.path)]
    stats = run_pipeline(images, model, settings, on_result) if images else Stats()
    began, cpu = time.perf_counter(), time.process_time()
    try:
        for task in videos:
            on_result(process_video(task, model, settings, video, stats))
    finally:
        stats.wall_seconds += time.perf_counter() - began
        stats.cpu_seconds += time.process_time() - cpu
    return stats


def process_video(
    task: Task, model: Model, settings: Settings, video: VideoSettings, stats: Stats
) -> FileResult:
    """One video to its target; failures come back as a failed result, interrupts propagate
    with the complete segments kept for the rerun."""
    began = time.perf_counter()
    path = task.source.path
    try:
        info = probe_video(path)
        check_frame_pixels(info, settings.max_pixels)
        outcome = _VideoJob(task, info, model, settings, video, stats).run()
    except (KeyboardInterrupt, Cancelled):
        raise
    except Exception as exc:
        return FileResult(
            source=path,
            relative=display_path(task.source.relative),
            target=task.target,
            status="failed",
            seconds=time.perf_counter() - began,
            bytes_in=_size_or_none(path),
            error=describe_error(exc),
        )
    if outcome.notes:
        for note in outcome.notes:
            click.echo(f"{display_path(path)}: {note}", err=True)
    seconds = time.perf_counter() - began
    return FileResult(
        source=path,
        relative=display_path(task.source.relative),
        target=task.target,
        status="ok",
        seconds=seconds,
        bytes_in=path.stat().st_size,
        bytes_out=outcome.bytes_out,
        input_size=(info.width, info.height),
        output_size=outcome.size,
        video=outcome.entry(info, seconds),
    )


@dataclass
class _Outcome:
    size: tuple[int, int] = (0, 0)
    bytes_out: int = 0
    frames: int = 0  # in the output
    processed: int = 0  # through the model in this run
    resumed_at: int | None = None
    seconds: float = 0.0  # the output's length
    segments: int = 0
    codec: str = ""
    pix_fmt: str = ""
    peak_in_flight: int = 0
    notes: list[str] = field(default_factory=list)

    def entry(self, info: VideoInfo, seconds: float) -> dict[str, Any]:
        """The report's ``video`` entry for this file."""
        return {
            "frames": self.frames,
            "seconds": round(self.seconds, 4),
            "fps": round(info.fps, 4),
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "resumed": self.resumed_at is not None,
            "resumed_at_frame": self.resumed_at,
            "frames_processed": self.processed,
            "frames_per_second": round(self.processed / seconds, 3) if seconds > 0 else None,
            "segments": self.segments,
            "peak_frames_in_flight": self.peak_in_flight,
            "notes": self.notes,
        }


_DONE = object()


class _VideoJob:
    def __init__(
        self,
        task: Task,
        info: VideoInfo,
        model: Model,
        settings: Settings,
        video: VideoSettings,
        stats: Stats,
    ) -> None:
        self.task, self.info, self.model = task, info, model
        self.settings, self.video, self.stats = settings, video, stats
        self.parts = SegmentFolder(task.target)
        self.per_segment = max(1, round(video.segment_seconds * info.fps))
        self.start, self.stop_at = video.frames or (0, None)
        self.decoded: queue.Queue[object] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.transformed: queue.Queue[object] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.first_pts: int | None = None
        self.end = DecodeEnd()
        self.failure: BaseException | None = None
        self.outcome = _Outcome(codec=video.encode.codec, pix_fmt=video.encode.pixel_format)

    def run(self) -> _Outcome:
        """Interrupted, the complete segments stay for the rerun; failed, nothing stays."""
        done = self.parts.resume(self._job_key())
        resume_at = self.start + done * self.per_segment
        if done:
            self.outcome.resumed_at = resume_at
        try:
            self._pipeline(resume_at)
            if self.failure is not None:
                raise self.failure
            segments = self.parts.complete()
            if not segments:
                raise UserError(f"no frames in {self._range_text()}")
            self._finish(segments, done)
        except Exception:
            self.parts.remove()
            raise
        return self.outcome

    def _finish(self, segments: list[Path], done: int) -> None:
        outcome = self.outcome
        if self.end.stopped:
            outcome.notes.append(f"input damaged or truncated: {self.end.stopped}")
        outcome.segments = len(segments)
        outcome.frames = done * self.per_segment + outcome.processed
        window = Window()
        if self.video.frames is not None:
            first = float((self.first_pts or 0) * self.info.time_base)
            window = Window(first, self.end.next_time, first)
        outcome.bytes_out = assemble(self.task.target, segments, self.info, window)
        outcome.seconds = media_duration(self.task.target)
        self.parts.remove()

    def _range_text(self) -> str:
        stop = "end" if self.stop_at is None else str(self.stop_at)
        return f"--frames {self.start}:{stop}" if self.video.frames else "the video"

    def _job_key(self) -> str:
        """Everything that changes the output: a segment is only reused for the same input
        file, model and settings."""
        source = self.task.source.path.stat()
        settings = self.settings
        parts = {
            "source": [source.st_size, source.st_mtime_ns],
            "model": _model_identity(self.model),
            "conditions": {k: list(v) for k, v in settings.conditions.items()},
            "adjustments": asdict(settings.adjustments),
            "encode": asdict(self.video.encode),
            "frames": self.video.frames,
            "smoothing": self.video.smoothing,
            "per_segment": self.per_segment,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _pipeline(self, resume_at: int) -> None:
        decoder = threading.Thread(target=self._decode, args=(resume_at,), daemon=True)
        encoder = threading.Thread(target=self._encode, args=(resume_at,), daemon=True)
        decoder.start()
        encoder.start()
        try:
            self._model_loop()
        except BaseException:
            self.stopping.set()
            raise
        finally:
            self._put(self.transformed, _DONE)
            encoder.join()
            self.stopping.set()
            decoder.join()

    def _put(self, channel: queue.Queue[object], item: object) -> bool:
        return put_unless_stopped(channel, item, self.stopping)

    def _take(self) -> object:
        """The next transformed frame, or the end: when the run is stopping, what is still
        queued is dropped (its segment would be incomplete anyway)."""
        while True:
            try:
                item = self.transformed.get(timeout=POLL)
            except queue.Empty:
                if self.stopping.is_set():
                    return _DONE
                continue
            return _DONE if self.stopping.is_set() else item

    def _count(self, change: int) -> None:
        with self.lock:
            self.in_flight += change
            self.outcome.peak_in_flight = max(self.outcome.peak_in_flight, self.in_flight)

    def _decode(self, resume_at: int) -> None:
        try:
            for frame in decode_frames(self.info, self.start, self.stop_at, self.end):
                if self.first_pts is None:
                    self.first_pts = frame.pts
                if frame.index < resume_at:
                    continue
                began = time.perf_counter()
                self._count(1)
                frame.to_rgb()
                self.stats.decode_seconds += time.perf_counter() - began
                if not self._put(self.decoded, frame):
                    return
        except Exception as exc:
            self.failure = exc
        self._put(self.decoded, _DONE)

    def _model_loop(self) -> None:
        settings = self.settings
        smoother = TemporalSmoother(self.video.smoothing) if self.video.smoothing else None
        total = self._expected_frames()
        while True:
            item = self.decoded.get()
            if item is _DONE or self.failure is not None:
                return
            assert isinstance(item, DecodedFrame)
            if settings.cancel is not None and settings.cancel.is_set():
                raise Cancelled
            began = time.perf_counter()
            output = self.model.transform(
                item.rgb,
                settings.conditions or None,
                tile_size=settings.tile_size,
                overlap=settings.overlap,
                adjustments=settings.adjustments,
            )
            if smoother is not None:
                output = smoother(item.rgb, output)
            self.stats.model_seconds += time.perf_counter() - began
            item.rgb = output
            if not self._put(self.transformed, item):
                return
            if self.video.on_frame is not None:
                self.video.on_frame(item.index - self.start + 1, total)

    def _expected_frames(self) -> int:
        stop = self.stop_at if self.stop_at is not None else self.info.frames
        if not stop and self.info.duration:
            stop = round(self.info.duration * self.info.fps)
        return max(0, (stop or 0) - self.start)

    def _encode(self, resume_at: int) -> None:
        writer: SegmentWriter | None = None
        current = -1
        try:
            while True:
                item = self._take()
                if item is _DONE:
                    break
                assert isinstance(item, DecodedFrame)
                began = time.perf_counter()
                segment = (item.index - self.start) // self.per_segment
                if segment != current:
                    if writer is not None:
                        writer.close()
                    writer = self._open_segment(segment, item.rgb)
                    current = segment
                assert writer is not None
                self._write(writer, item)
                self._count(-1)
                self.stats.encode_seconds += time.perf_counter() - began
            if writer is not None and not self.stopping.is_set():
                writer.close()
                writer = None
        except Exception as exc:
            self.failure = exc
            self.stopping.set()
        finally:
            if writer is not None:
                writer.discard()

    def _open_segment(self, segment: int, first: np.ndarray) -> SegmentWriter:
        height, width = first.shape[:2]
        size = even_size(width, height, self.video.encode.pixel_format)
        if size != (width, height) and not self.outcome.notes:
            self.outcome.notes.append(
                f"output cropped from {width}×{height} to {size[0]}×{size[1]} for "
                f"{self.video.encode.pixel_format}"
            )
        self.outcome.size = size
        offset = (self.first_pts or 0) if self.video.frames is not None else 0
        return SegmentWriter(self.parts.path(segment), self.video.encode, size, self.info, offset)

    def _write(self, writer: SegmentWriter, item: DecodedFrame) -> None:
        assert item.rgb is not None
        width, height = self.outcome.size
        writer.write(item.rgb[:height, :width], item.pts)
        self.outcome.processed += 1


def _model_identity(model: Model) -> list[object]:
    """The model file and its version on disk (a retrained file under the same name is a
    different model), and the precision it runs at."""
    path = getattr(model, "path", None)
    try:
        stat = Path(path).stat() if path is not None else None
    except OSError:
        stat = None
    version = [stat.st_size, stat.st_mtime_ns] if stat is not None else []
    return [str(path or type(model).__name__), *version, getattr(model, "precision", "")]


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
