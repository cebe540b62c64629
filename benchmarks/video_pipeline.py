"""Does ``imagexform batch`` on a video keep the model busy, and is its memory bounded?

Measured in one run on the same model and clip:
- ``model``: pure model throughput — the clip's frames already decoded to RGB in memory, one
  ``RuntimeModel.transform`` call each, nothing else running;
- ``video``: ``imagexform batch`` on the clip file in a fresh process (probe, decode, model,
  encode to H.264 segments, join with the copied audio track); frames/s over the whole
  video's time from the report (``video.frames_per_second``);
- ``ratio`` = video / model frames/s (the target is ≥ 0.90), medians of alternating rounds;
- memory: the batch process's peak RSS on the clip and on a clip ``--long-factor`` times
  longer; with at most a few frames in flight the two peaks are about equal, where holding
  every frame would add ``extra_frames × frame_mb``. The report's ``peak_frames_in_flight``
  is given beside them.

The clip pans across the shipped photos (assets/photos) at 960×540, 24 fps, with a sine-wave
sound track; the model is batch_pipeline.py's small fully convolutional net (four 3×3
convolutions, ``--width`` channels at full resolution, 16 by default). CPU milliseconds per
frame on both sides show what decoding, colour conversion and H.264 encoding add, whatever
else the (shared) machine is doing: on a saturated CPU that, not overlap, bounds the ratio.

Run: .venv/bin/python benchmarks/video_pipeline.py [--frames 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from batch_pipeline import PHOTOS, make_model

from imagexform.io.video import decode_frames, probe_video
from imagexform.runtime import load_model

WIDTH, HEIGHT, FPS = 960, 540, 24
SAMPLE_RATE = 16_000

# The CLI as users get it; reports torch and the process's peak resident memory.
_CLI = """
import resource, sys
from imagexform.batch.command import batch
from imagexform.cli import cli
cli.add_command(batch)
try:
    cli(sys.argv[1:])
finally:
    print("TORCH_LOADED=" + str("torch" in sys.modules), file=sys.stderr)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"PEAK_RSS_KB={usage.ru_maxrss}", file=sys.stderr)
    print(f"CPU_SECONDS={usage.ru_utime + usage.ru_stime}", file=sys.stderr)
"""


def make_clip(path: Path, frames: int) -> None:
    """A slow pan across the photos, one after another, with a 440 Hz tone."""
    photos = sorted(p for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png"))
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"crf": "20"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_pan(photos, index), format="rgb24")
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


def _pan(photos: list[Path], index: int) -> np.ndarray:
    photo = cv2.imread(str(photos[(index // 48) % len(photos)]), cv2.IMREAD_COLOR)
    scale = 1.3 * max(WIDTH / photo.shape[1], HEIGHT / photo.shape[0])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    left = (index % 48) * (big.shape[1] - WIDTH) // 48
    top = (big.shape[0] - HEIGHT) // 2
    crop = big[top : top + HEIGHT, left : left + WIDTH]
    return np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))


def pure_model(model_path: Path, clip: Path, threads: int) -> dict[str, object]:
    model = load_model(model_path, device="cpu", threads=threads)
    images = [frame.to_rgb() for frame in decode_frames(probe_video(clip))]
    model.transform(images[0], tile_size=0)  # warm-up: allocations, kernel selection
    began, cpu = time.perf_counter(), time.process_time()
    for image in images:
        model.transform(image, tile_size=0)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {
        "seconds": round(seconds, 3),
        "cpu_ms_per_frame": round(1000 * cpu / len(images), 1),
        "frames_per_second": round(len(images) / seconds, 3),
    }


def video_run(model_path: Path, clip: Path, out: Path, threads: int) -> dict[str, object]:
    report_path = out.parent / f"{out.name}.json"
    flags = ["--device", "cpu", "--threads", str(threads), "--tile", "0"]
    command = ["batch", str(clip), str(out), "--model", str(model_path), *flags]
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _CLI, *command, "--report", str(report_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"batch failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(report_path.read_text())
    entry = report["files"][0]["video"]
    peak_kb = int(_told(result.stderr, "PEAK_RSS_KB"))
    return {
        "end_to_end_seconds": round(seconds, 3),
        "frames": entry["frames"],
        "frames_per_second": entry["frames_per_second"],
        "model_seconds": report["timing"]["model_seconds"],
        "decode_seconds": report["timing"]["decode_seconds"],
        "encode_seconds": report["timing"]["encode_seconds"],
        "peak_frames_in_flight": entry["peak_frames_in_flight"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "process_cpu_ms_per_frame": round(
            1000 * float(_told(result.stderr, "CPU_SECONDS")) / entry["frames"], 1
        ),
        "audio_copied": report["files"][0]["bytes_out"] > 0,
        "torch_loaded": "TORCH_LOADED=True" in result.stderr,
    }


def _told(stderr: str, name: str) -> str:
    return stderr.rsplit(f"{name}=", 1)[1].split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="alternating model/video rounds")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--long-factor", type=int, default=4)
    parser.add_argument("--width", type=int, default=16, help="channels of the model's layers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        clip, long_clip = work / "clip.mp4", work / "long.mp4"
        make_clip(clip, args.frames)
        make_clip(long_clip, args.frames * args.long_factor)
        model_path = work / "net.onnx"
        make_model(model_path, width=args.width)
        models, videos = [], []
        for index in range(args.rounds):  # alternating, so machine load hits both alike
            models.append(pure_model(model_path, clip, args.threads))
            videos.append(video_run(model_path, clip, work / f"out{index}", args.threads))
        long_run = video_run(model_path, long_clip, work / "long_out", args.threads)

    model_rate = statistics.median(m["frames_per_second"] for m in models)
    video_rate = statistics.median(v["frames_per_second"] for v in videos)
    frame_mb = WIDTH * HEIGHT * 3 / 2**20
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
                "frame_size": [WIDTH, HEIGHT],
                "frames": args.frames,
                "model_width": args.width,
                "model": models,
                "video": videos,
                "model_frames_per_second": round(model_rate, 3),
                "video_frames_per_second": round(video_rate, 3),
                "ratio": round(video_rate / model_rate, 3),
                "ratio_per_round": [
                    round(v["frames_per_second"] / m["frames_per_second"], 3)
                    for m, v in zip(models, videos, strict=True)
                ],
                "target_ratio": 0.9,
                "model_cpu_ms_per_frame": statistics.median(m["cpu_ms_per_frame"] for m in models),
                "video_process_cpu_ms_per_frame": statistics.median(
                    v["process_cpu_ms_per_frame"] for v in videos
                ),
                "memory": {
                    "frame_mb": round(frame_mb, 2),
                    "short_peak_rss_mb": statistics.median(v["peak_rss_mb"] for v in videos),
                    "long_frames": long_run["frames"],
                    "long_peak_rss_mb": long_run["peak_rss_mb"],
                    "extra_frames": long_run["frames"] - args.frames,
                    "if_all_frames_were_held_mb": round(
                        (long_run["frames"] - args.frames) * frame_mb, 1
                    ),
                    "long_peak_frames_in_flight": long_run["peak_frames_in_flight"],
                },
                "torch_loaded": any(v["torch_loaded"] for v in [*videos, long_run]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
