"""Short clips made with PyAV for the video tests: moving shapes with a sine-wave sound track,
plus helpers that read back what the tests compare (frame times, audio packet bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 64, 48
SAMPLE_RATE = 16_000


def shapes(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A square and a bar that move one step per frame over a gradient."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, :, 2] = np.linspace(40, 200, width, dtype=np.uint8)[None, :]
    x = (index * 3) % (width - 12)
    frame[10:22, x : x + 12] = (230, 60, 40)
    y = (index * 2) % (height - 6)
    frame[y : y + 6, :, 1] = 220
    return frame


def make_clip(
    path: Path,
    seconds: float = 1.0,
    fps: int = 24,
    *,
    size: tuple[int, int] = (WIDTH, HEIGHT),
    audio: bool = True,
    rotation: int = 0,
    times: Sequence[float] | None = None,
    bt709: bool = False,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> Path:
    """An H.264 clip (yuv420p unless told) of ``seconds`` at ``fps``, or with frames at ``times``
    (seconds, for a variable frame rate), and a 440 Hz AAC track of the same length."""
    path.parent.mkdir(parents=True, exist_ok=True)
    times = list(times) if times is not None else [i / fps for i in range(round(seconds * fps))]
    length = times[-1] + 1 / fps
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = pix_fmt
        video.codec_context.time_base = Fraction(1, 1000)
        if bt709:
            context = video.codec_context
            context.colorspace, context.color_primaries, context.color_trc = 1, 1, 1
            context.color_range = 1
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        container.metadata["title"] = "imagexform test clip"
        for index, when in enumerate(times):
            frame = av.VideoFrame.from_ndarray(shapes(index, *size), format="rgb24")
            if bt709:
                frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
            frame.pts = round(when * 1000)
            frame.time_base = Fraction(1, 1000)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _write_sine(container, sound, length)
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        _write_sine(container, container.add_stream("aac", rate=SAMPLE_RATE), seconds)
    return path


def _write_sine(container: av.container.OutputContainer, stream, seconds: float) -> None:
    samples = np.arange(round(seconds * SAMPLE_RATE))
    wave = (0.3 * np.sin(2 * np.pi * 440 * samples / SAMPLE_RATE)).astype(np.float32)
    step = 1024
    for first in range(0, len(wave), step):
        chunk = wave[None, first : first + step]
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = first
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def frame_times(path: Path) -> list[float]:
    """Presentation times (seconds) of every decoded video frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [round(float(f.pts * stream.time_base), 4) for f in container.decode(stream)]


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def rotation(path: Path) -> int:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return round(frame.rotation)


def with_subtitles(clip: Path, target: Path, cues: list[tuple[float, float, str]]) -> Path:
    """``clip`` remuxed into Matroska ``target`` with a SubRip track of ``cues``, every
    stream tagged as French."""
    srt = target.with_suffix(".srt")
    srt.write_text("\n".join(_cue(i, *cue) for i, cue in enumerate(cues, 1)))
    with (
        av.open(str(clip)) as source,
        av.open(str(srt)) as text,
        av.open(str(target), "w") as out,
    ):
        copies = {s: out.add_stream_from_template(s) for s in [*source.streams, *text.streams]}
        for copy in copies.values():
            copy.metadata["language"] = "fra"
        for container in (source, text):
            for packet in container.demux():
                if packet.dts is not None:
                    packet.stream = copies[packet.stream]
                    out.mux(packet)
    return target


def _cue(number: int, start: float, end: float, words: str) -> str:
    def stamp(seconds: float) -> str:
        millis = round(seconds * 1000)
        return f"00:00:{millis // 1000:02d},{millis % 1000:03d}"

    return f"{number}\n{stamp(start)} --> {stamp(end)}\n{words}\n"


def subtitle_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(subtitles=0) if p.size]


def make_gif(path: Path, count: int = 10, size: tuple[int, int] = (63, 47)) -> Path:
    """An animated GIF at 10 frames a second, odd-sized as GIFs often are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("gif", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "rgb8"
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(shapes(index, *size), format="rgb24")
            frame = frame.reformat(format="rgb8")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
