"""Turn the shipped photos (assets/photos) into a short clip with sound, for trying
``imagexform batch`` on a video (README) and for benchmarks/video_pipeline.py.

The camera pans slowly across each photo in turn for two seconds; the sound track is a
440 Hz tone. Deterministic: rerunning gives the same frames.

Run: .venv/bin/python scripts/photos_clip.py OUT.mp4 [--seconds 4] [--size 480x270]
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "photos"
FPS = 24
SAMPLE_RATE = 16_000
PAN_FRAMES = 2 * FPS  # frames spent on each photo


def make_clip(path: Path, frames: int, size: tuple[int, int] = (480, 270)) -> Path:
    """``frames`` frames of ``size`` at 24 fps, H.264 (yuv420p, BT.709) with an AAC tone."""
    photos = sorted(p for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png"))
    with av.open(str(path), "w") as container:
        container.metadata["title"] = "imagexform photos clip"
        video = container.add_stream("libx264", rate=FPS, options={"crf": "20"})
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        context = video.codec_context
        context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(pan(photos, index, size), format="rgb24")
            frame = picture.reformat(format="yuv420p", dst_colorspace="ITU709")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = np.arange(frames * SAMPLE_RATE // FPS)
        wave = (0.3 * np.sin(2 * np.pi * 440 * samples / SAMPLE_RATE)).astype(np.float32)
        for first in range(0, len(wave), 1024):
            chunk = av.AudioFrame.from_ndarray(wave[None, first : first + 1024], "flt", "mono")
            chunk.sample_rate, chunk.pts = SAMPLE_RATE, first
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path


def pan(photos: list[Path], index: int, size: tuple[int, int]) -> np.ndarray:
    """Frame ``index``: a crop moving left to right across the current photo, as RGB."""
    width, height = size
    photo = cv2.imread(str(photos[(index // PAN_FRAMES) % len(photos)]), cv2.IMREAD_COLOR)
    scale = 1.3 * max(width / photo.shape[1], height / photo.shape[0])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    left = (index % PAN_FRAMES) * (big.shape[1] - width) // PAN_FRAMES
    top = (big.shape[0] - height) // 2
    crop = big[top : top + height, left : left + width]
    return np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", default="480x270", help="WIDTHxHEIGHT, both even")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.lower().split("x"))
    make_clip(args.output, round(args.seconds * FPS), (width, height))
    print(args.output)


if __name__ == "__main__":
    main()
