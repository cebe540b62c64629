"""Video files in and out through PyAV (FFmpeg's libraries, bundled in its wheels; no torch and
no ffmpeg binary).

Frames leave here as H×W×3 uint8 RGB arrays in the stream's stored orientation and come back
the same way: converted to RGB once on decode and back once on encode, with the input's
colour range, matrix, primaries and transfer tagged on the output, and the rotation kept as
display side data rather than applied to the pixels. Timestamps stay in the input stream's
own time base, so a variable frame rate survives. Other streams (audio, subtitles) are copied
packet for packet, never re-encoded.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from imagexform.errors import UserError
from imagexform.io.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    ImageWriteError,
    PathLike,
    is_image_name,
)

# Lower-case suffixes, dot included; GIF counts as video when it is a batch input.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".gif")
MEDIA_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
# What --video-codec names, and the FFmpeg encoders that provide it, best first.
CODECS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "libopenh264"),
    "hevc": ("libx265",),
    "av1": ("libsvtav1", "libaom-av1", "librav1e"),
    "vp9": ("libvpx-vp9",),
    "ffv1": ("ffv1",),
    "mpeg4": ("mpeg4",),
}
DEFAULT_CODEC = "h264"
DEFAULT_CRF = 18
LOSSLESS_CODEC = "ffv1"
_PRESET_ENCODERS = ("libx264", "libx265")
_DEFAULT_PIX_FMT = {"ffv1": "yuv444p"}  # a lossless codec should not halve the chroma
# Encoders look ahead of the frame they code; their defaults (x264: 40 frames, VP9: 25) hold
# dozens of frames beside ours: 0.9 GB more at 4K for x264. Ten frames keep most of the
# rate-control gain at under a third of the memory.
_BOUNDED_LOOKAHEAD: dict[str, dict[str, str]] = {
    "libx264": {"rc-lookahead": "10"},
    "libx265": {"x265-params": "rc-lookahead=10:log-level=error"},
    "libvpx-vp9": {"lag-in-frames": "10"},
    "libsvtav1": {"svtav1-params": "lookahead=10"},
}
_MAX_ENCODER_THREADS = 8  # each frame thread holds a frame; more hardly speeds encoding up
_FALLBACK_CONTAINER = ".mkv"  # Matroska carries every codec above
# FFmpeg can put these codecs in these containers, but players do not read them there.
_ODD_PAIRS = frozenset({("ffv1", ".mp4"), ("ffv1", ".m4v"), ("ffv1", ".mov")})
# Muxers write these themselves; copying them would claim the wrong file type or writer.
# Stream tags that describe the encoded data (Matroska statistics) go stale the same way.
_OWN_TAGS = frozenset(
    {"major_brand", "minor_version", "compatible_brands", "encoder", "duration", "bps"}
    | {"number_of_frames", "number_of_bytes"}
)


def is_video_name(path: PathLike) -> bool:
    """Whether a file name looks like a video we read (hidden files never do)."""
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in VIDEO_EXTENSIONS


def is_media_name(path: PathLike) -> bool:
    """Whether ``imagexform batch`` takes the file: an image or a video."""
    return is_image_name(path) or is_video_name(path)


def encoders() -> dict[str, str]:
    """The codecs this PyAV build can encode, by --video-codec name, with the encoder used."""
    found = {}
    for name, candidates in CODECS.items():
        for encoder in candidates:
            try:
                av.codec.Codec(encoder, "w")
            except (av.codec.codec.UnknownCodecError, ValueError):
                continue
            found[name] = encoder
            break
    return found


def resolve_encoder(codec: str) -> str:
    """The FFmpeg encoder for ``codec``, or a one-line error listing what this build has."""
    available = encoders()
    if codec not in available:
        raise UserError(
            f"--video-codec {codec}: this PyAV build cannot encode it; it can encode "
            f"{', '.join(sorted(available)) or 'nothing'}"
        )
    return available[codec]


@dataclass(frozen=True)
class ColorTags:
    """The colour description of a stream as FFmpeg's enum values (2 means unspecified)."""

    range: int = 0
    space: int = 2
    primaries: int = 2
    trc: int = 2


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    time_base: Fraction
    rate: Fraction  # average frames per second
    frames: int  # from the header; 0 when the container does not say
    duration: float | None  # seconds, None when unknown
    start_pts: int
    codec: str
    rotation: int  # counter-clockwise degrees of the display matrix
    color: ColorTags
    copied_streams: int  # audio and subtitle streams carried over
    metadata: dict[str, str] = field(default_factory=dict)  # the container's tags
    stream_metadata: dict[str, str] = field(default_factory=dict)  # the video stream's

    @property
    def fps(self) -> float:
        return float(self.rate)


def open_input(path: PathLike) -> Any:
    """The opened container, or a one-line error naming the file."""
    try:
        return av.open(os.fspath(path))
    except av.error.FFmpegError as exc:
        raise ImageReadError(path, f"cannot open as a video ({_reason(exc)})") from None


def video_stream(container: Any, path: PathLike) -> Any:
    streams = container.streams.video
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise ImageReadError(path, f"no video stream (found: {', '.join(kinds)})")
    return streams[0]


def probe_video(path: PathLike) -> VideoInfo:
    """What the header and the first frame say; the first frame is decoded so a file that
    cannot be decoded at all fails here, before any work, and its rotation is read."""
    with open_input(path) as container:
        stream = video_stream(container, path)
        first = _first_frame(container, stream, path)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        return VideoInfo(
            path=Path(path),
            width=first.width,
            height=first.height,
            time_base=stream.time_base,
            rate=stream.average_rate or stream.guessed_rate or Fraction(25),
            frames=stream.frames,
            duration=duration,
            start_pts=first.pts or 0,
            codec=stream.codec_context.name,
            rotation=round(first.rotation or 0),
            color=_color_tags(first),
            copied_streams=len(_copyable(container)),
            metadata=_user_tags(container.metadata),
            stream_metadata=_user_tags(stream.metadata),
        )


def check_frame_pixels(info: VideoInfo, max_pixels: int) -> None:
    pixels = info.width * info.height
    if max_pixels and pixels > max_pixels:
        raise ImageReadError(
            info.path,
            f"video frames are {info.width}×{info.height} = {pixels:,} pixels, above the "
            f"--max-pixels limit of {max_pixels:,}",
        )


@dataclass
class DecodedFrame:
    """A frame as decoded; :meth:`to_rgb` converts it (once) where the caller chooses, so
    frames skipped on resume are never converted."""

    index: int  # position in presentation order, from 0
    pts: int  # in the input stream's time base
    frame: Any = None
    rgb: np.ndarray | None = None

    def to_rgb(self) -> np.ndarray:
        if self.rgb is None:
            self.rgb = to_rgb(self.frame)
            self.frame = None
        return self.rgb


@dataclass
class DecodeEnd:
    """How decoding ended: ``stopped`` says where and why when the file ended early."""

    frames: int = 0
    last_time: float = 0.0
    next_time: float | None = None  # of the first frame after ``stop``, if there is one
    stopped: str | None = None


def decode_frames(
    info: VideoInfo, start: int = 0, stop: int | None = None, end: DecodeEnd | None = None
) -> Iterator[DecodedFrame]:
    """Frames ``start`` ≤ index < ``stop`` as RGB, each converted once from the stream's own
    matrix and range. A damaged or truncated file yields what decodes and records in ``end``
    where it stopped instead of raising."""
    end = end if end is not None else DecodeEnd()
    with open_input(info.path) as container:
        stream = video_stream(container, info.path)
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                if stop is not None and index >= stop:
                    end.next_time = float((frame.pts or 0) * info.time_base)
                    return
                end.frames = index + 1
                end.last_time = float((frame.pts or 0) * info.time_base)
                if index >= start:
                    yield DecodedFrame(index, frame.pts or 0, frame)
                index += 1
        except av.error.FFmpegError as exc:
            end.stopped = f"decoding stopped after frame {index} ({end.last_time:.2f} s): " + (
                _reason(exc)
            )
            return
    if stop is None and info.duration and end.frames:
        expected_end = info.duration - 1.5 / max(info.fps, 1e-6)
        if end.last_time < expected_end - float(info.start_pts * info.time_base):
            end.stopped = (
                f"the file ends early: last frame {end.frames - 1} at {end.last_time:.2f} s "
                f"of {info.duration:.2f} s"
            )


def frame_count(info: VideoInfo) -> int:
    """Frames in the video: the header's count, or estimated from duration and rate."""
    if info.frames:
        return info.frames
    return max(1, round((info.duration or 0) * info.fps))


def read_frame(info: VideoInfo, index: int) -> np.ndarray:
    """Frame ``index`` (counted at the average rate from the first frame) as RGB, found by
    seeking to the key frame before it, so a frame deep in a long video comes quickly."""
    target = info.start_pts + round(index / (info.rate * info.time_base))
    with open_input(info.path) as container:
        stream = video_stream(container, info.path)
        container.seek(target, stream=stream, backward=True)
        last = None
        half = 0.5 / (info.rate * info.time_base)
        try:
            for frame in container.decode(stream):
                last = frame
                if (frame.pts or 0) >= target - half:
                    break
        except av.error.FFmpegError as exc:
            if last is None:
                problem = f"cannot decode frame {index} ({_reason(exc)})"
                raise ImageReadError(info.path, problem) from None
        if last is None:
            raise ImageReadError(info.path, f"no frame {index}")
        return to_rgb(last)


def to_rgb(frame: Any) -> np.ndarray:
    """One conversion to RGB, honouring the frame's own matrix and range (BT.709 stays
    BT.709 rather than being read as BT.601)."""
    space = frame.colorspace if frame.colorspace not in (2, 0) else None
    rgb = frame.reformat(
        format="rgb24",
        src_colorspace=space,
        src_color_range=frame.color_range or None,
        dst_color_range="JPEG",
    )
    return rgb.to_ndarray()


@dataclass(frozen=True)
class EncodeSpec:
    """How frames are encoded: --video-codec, --crf or --video-bitrate, --pix-fmt."""

    codec: str = DEFAULT_CODEC
    crf: int | None = None  # None: DEFAULT_CRF unless a bitrate is given
    bitrate: int | None = None  # bits per second
    pix_fmt: str | None = None  # None: yuv420p, yuv444p for ffv1
    preset: str | None = None  # None: the encoder's own default (medium)

    @property
    def pixel_format(self) -> str:
        return self.pix_fmt or _DEFAULT_PIX_FMT.get(self.codec, "yuv420p")

    def options(self) -> dict[str, str]:
        if self.codec == "ffv1" or self.bitrate is not None:
            return {}
        crf = DEFAULT_CRF if self.crf is None else self.crf
        return {"crf": str(crf)}


def check_spec(spec: EncodeSpec) -> str:
    """The encoder, once --pix-fmt, --crf, --video-bitrate and --video-preset are known to
    suit it."""
    encoder = resolve_encoder(spec.codec)
    if spec.preset is not None and encoder not in _PRESET_ENCODERS:
        raise UserError(
            f"--video-preset {spec.preset}: {spec.codec} ({encoder}) takes no preset; "
            "presets are x264's and x265's (h264, hevc)"
        )
    formats = [f.name for f in av.codec.Codec(encoder, "w").video_formats or ()]
    if formats and spec.pixel_format not in formats:
        raise UserError(
            f"--pix-fmt {spec.pixel_format}: {spec.codec} ({encoder}) cannot encode it; "
            f"it takes {', '.join(formats)}"
        )
    if spec.codec == "ffv1" and (spec.crf is not None or spec.bitrate is not None):
        raise UserError("--crf/--video-bitrate: ffv1 is lossless and takes neither")
    return encoder


def even_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The largest size ≤ (width, height) that the pixel format's chroma subsampling allows
    (4:2:0 needs both sides even, 4:2:2 the width)."""
    fmt = av.VideoFormat(pix_fmt, 64, 64)
    if fmt.is_rgb or len(fmt.components) < 2:
        return width, height
    chroma = fmt.components[1]
    step_x, step_y = 64 // chroma.width, 64 // chroma.height
    return width - width % step_x, height - height % step_y


def output_container(source: PathLike, spec: EncodeSpec) -> str:
    """The output file extension: the input's when its container can carry the codec
    (checked by writing a one-frame file in memory), otherwise Matroska's."""
    suffix = Path(source).suffix.lower()
    if suffix != ".gif" and _can_carry(suffix, spec):
        return Path(source).suffix
    if suffix in (".gif", ".mov") and _can_carry(".mp4", spec):
        return ".mp4"
    return _FALLBACK_CONTAINER


def _can_carry(suffix: str, spec: EncodeSpec) -> bool:
    if (spec.codec, suffix) in _ODD_PAIRS:
        return False
    try:
        with av.open(io.BytesIO(), "w", format=_format_name(suffix)) as container:
            stream = _add_video_stream(container, spec, 16, 16, Fraction(1, 25), Fraction(25))
            frame = av.VideoFrame(16, 16, spec.pixel_format)
            frame.pts = 0
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def _format_name(suffix: str) -> str:
    return {".mkv": "matroska", ".m4v": "mp4", ".webm": "webm", ".avi": "avi"}.get(
        suffix.lower(), suffix.lower().lstrip(".")
    )


def _add_video_stream(
    container: Any,
    spec: EncodeSpec,
    width: int,
    height: int,
    time_base: Fraction,
    rate: Fraction,
) -> Any:
    encoder = check_spec(spec)
    if encoder == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # errors only: its banner is not for our users
    options = spec.options() | _BOUNDED_LOOKAHEAD.get(encoder, {})
    if spec.preset is not None:
        options["preset"] = spec.preset
    stream = container.add_stream(encoder, rate=rate, options=options)
    stream.codec_context.thread_count = min(_MAX_ENCODER_THREADS, os.cpu_count() or 1)
    stream.width, stream.height = width, height
    stream.pix_fmt = spec.pixel_format
    stream.codec_context.time_base = time_base
    stream.time_base = time_base
    if spec.bitrate is not None:
        stream.codec_context.bit_rate = spec.bitrate
    return stream


class SegmentWriter:
    """Encodes one run of frames into a complete file that appears only when closed, so a
    killed run leaves either a whole segment or none (just a hidden temp file)."""

    def __init__(
        self,
        path: Path,
        spec: EncodeSpec,
        size: tuple[int, int],
        info: VideoInfo,
        pts_offset: int = 0,
    ) -> None:
        self.path = path
        self.temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        self.info = info
        self.offset = pts_offset
        self.frames = 0
        self.container = av.open(os.fspath(self.temp), "w", format=_format_name(path.suffix))
        self.stream = _add_video_stream(
            self.container, spec, size[0], size[1], info.time_base, info.rate
        )
        color = info.color
        context = self.stream.codec_context
        context.color_range = color.range or 1  # tag what we write: limited unless known
        context.colorspace, context.color_primaries, context.color_trc = (
            color.space,
            color.primaries,
            color.trc,
        )

    def write(self, rgb: np.ndarray, pts: int) -> None:
        frame = from_rgb(rgb, self.stream.pix_fmt, self.info.color)
        frame.pts = pts - self.offset
        frame.time_base = self.info.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
            os.replace(self.temp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()
        with contextlib.suppress(OSError):
            self.temp.unlink(missing_ok=True)


def from_rgb(rgb: np.ndarray, pix_fmt: str, color: ColorTags) -> Any:
    """One conversion back from RGB into the encoder's format with the input's matrix and
    range, tagged with its primaries and transfer."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    fmt = av.VideoFormat(pix_fmt)
    if fmt.is_rgb:
        return frame.reformat(format=pix_fmt)
    space = color.space if color.space not in (2, 0) else None
    return frame.reformat(
        format=pix_fmt,
        src_color_range="JPEG",
        dst_colorspace=space,
        dst_color_range=color.range or "MPEG",
        dst_color_primaries=color.primaries,
        dst_color_trc=color.trc,
    )


@dataclass(frozen=True)
class Window:
    """The part of the input the output covers (--frames), in seconds, and the shift that
    makes the output start where the input did."""

    start: float | None = None
    end: float | None = None
    shift: float = 0.0


def assemble(
    target: Path, segments: Sequence[Path], info: VideoInfo, window: Window = Window()
) -> int:
    """Join the finished segments (packets copied, not re-encoded) with the input's audio
    and subtitle streams, container tags and rotation into ``target``, which appears only
    when complete. Returns its size in bytes."""
    temp = target.with_name(f".{target.name[:40]}.{secrets.token_hex(4)}.tmp")
    try:
        _assemble(temp, _format_name(target.suffix), segments, info, window)
        os.replace(temp, target)
    except av.error.FFmpegError as exc:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise ImageWriteError(target, f"cannot write the video ({_reason(exc)})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def _assemble(
    temp: Path, format_name: str, segments: Sequence[Path], info: VideoInfo, window: Window
) -> None:
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(av.open(os.fspath(temp), "w", format=format_name))
        output.metadata.update(info.metadata)
        inputs = [stack.enter_context(av.open(os.fspath(path))) for path in segments]
        # opaque: copy the codec parameters without looking for an encoder by the decoder's
        # name (AV1 is read by libdav1d, which does not encode).
        video = output.add_stream_from_template(inputs[0].streams.video[0], opaque=True)
        video.time_base = info.time_base
        video.metadata.update(info.stream_metadata)
        if info.rotation:
            video.set_display_rotation(info.rotation)
        source = stack.enter_context(open_input(info.path))
        copies = {}
        for stream in _copyable(source):
            copies[stream.index] = output.add_stream_from_template(stream, opaque=True)
            copies[stream.index].metadata.update(_user_tags(stream.metadata))
        video_packets = _concatenated(inputs, video)
        other_packets = _copied(source, copies, window)
        for _, _, packet in heapq.merge(video_packets, other_packets, key=lambda x: x[:2]):
            output.mux(packet)


def _concatenated(inputs: Sequence[Any], stream: Any) -> Iterator[tuple[float, int, Any]]:
    """Every segment's packets in turn, decode timestamps kept increasing across joins."""
    last_dts: int | None = None
    for container in inputs:
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0:
                continue
            if last_dts is not None and packet.dts is not None and packet.dts <= last_dts:
                packet.dts = last_dts + 1
            last_dts = packet.dts
            packet.stream = stream
            yield float((packet.dts or 0) * packet.time_base), 0, packet


def _copied(
    source: Any, copies: dict[int, Any], window: Window
) -> Iterator[tuple[float, int, Any]]:
    """The input's audio and subtitle packets inside ``window``, untouched but for the
    shift --frames asks for. A damaged tail ends the copy where it stops."""
    if not copies:
        return
    streams = [source.streams[index] for index in copies]
    try:
        for packet in source.demux(streams):
            if packet.size == 0 or packet.pts is None:
                continue
            when = float(packet.pts * packet.time_base)
            early = window.start is not None and when < window.start
            if early or (window.end is not None and when >= window.end):
                continue
            if window.shift:
                offset = round(window.shift / packet.time_base)
                packet.pts -= offset
                if packet.dts is not None:
                    packet.dts -= offset
            target = copies[packet.stream.index]
            packet.stream = target
            yield float((packet.dts or packet.pts) * packet.time_base), 1, packet
    except av.error.FFmpegError:
        return


def media_duration(path: PathLike) -> float:
    """A written file's length in seconds, as its header says."""
    with open_input(path) as container:
        return (container.duration or 0) / av.time_base


def _first_frame(container: Any, stream: Any, path: PathLike) -> Any:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise ImageReadError(path, f"cannot decode the video ({_reason(exc)})") from None
    raise ImageReadError(path, "the video stream has no frames that decode")


def _copyable(container: Any) -> list[Any]:
    return [s for s in container.streams if s.type in ("audio", "subtitle")]


def _color_tags(frame: Any) -> ColorTags:
    return ColorTags(
        range=int(frame.color_range),
        space=int(frame.colorspace),
        primaries=int(frame.color_primaries),
        trc=int(frame.color_trc),
    )


def _user_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in tags.items()
        if key.lower() not in _OWN_TAGS and not key.lower().startswith("_statistics")
    }


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def describe(info: VideoInfo) -> str:
    """One line for --dry-run: size, frames, rate, length, codec."""
    length = f"{info.duration:.2f} s" if info.duration else "unknown length"
    frames = f"{info.frames} frames, " if info.frames else ""
    return (
        f"{info.width}×{info.height} {info.codec}, {frames}{info.fps:.3g} fps, {length}"
        f"{f', rotated {info.rotation}°' if info.rotation else ''}"
        f"{f', {info.copied_streams} stream(s) copied' if info.copied_streams else ''}"
    )
