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
  is given beside them; ``memory_3840x2160`` repeats the check on a 4K clip.

The clip pans across the shipped photos (scripts/photos_clip.py) at 960×540, 24 fps, with a
sine-wave sound track; the model is batch_pipeline.py's small fully convolutional net (four 3×3
convolutions, ``--width`` channels at full resolution, 16 by default), or ``--model FILE``:
any imagexform ONNX model, e.g. a published-size TransformerNet or CycleGAN generator (the
weights do not change the speed), at ``--size``. ``--video-preset`` is passed to the batch
run (x264's speed/size trade-off; the encoder's own default is medium). CPU milliseconds per
frame on both sides (the pipeline's from the report: the process's, all threads) show what
decoding, colour conversion and H.264 encoding add, whatever
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
from pathlib import Path

from batch_pipeline import CLI_SCRIPT, make_model, time_transforms

from imagexform.io.video import decode_frames, probe_video

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from photos_clip import make_clip  # noqa: E402  (scripts/ is not a package)

WIDTH, HEIGHT = 960, 540
UHD = (3840, 2160)


def pure_model(model_path: Path, clip: Path, threads: int) -> dict[str, object]:
    images = [frame.to_rgb() for frame in decode_frames(probe_video(clip))]
    seconds, cpu, _ = time_transforms(model_path, images, threads)
    return {
        "seconds": round(seconds, 3),
        "cpu_ms_per_frame": round(1000 * cpu / len(images), 1),
        "frames_per_second": round(len(images) / seconds, 3),
    }


def video_run(
    model_path: Path, clip: Path, out: Path, threads: int, preset: str | None = None
) -> dict[str, object]:
    report_path = out.parent / f"{out.name}.json"
    flags = ["--device", "cpu", "--threads", str(threads), "--tile", "0"]
    flags += ["--video-preset", preset] if preset else []
    command = ["batch", str(clip), str(out), "--model", str(model_path), *flags]
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *command, "--report", str(report_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"batch failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(report_path.read_text())
    entry = report["files"][0]["video"]
    peak_kb = int(result.stderr.rsplit("PEAK_RSS_KB=", 1)[1].split()[0])
    return {
        "end_to_end_seconds": round(seconds, 3),
        "frames": entry["frames"],
        "frames_per_second": entry["frames_per_second"],
        "model_seconds": report["timing"]["model_seconds"],
        "decode_seconds": report["timing"]["decode_seconds"],
        "encode_seconds": report["timing"]["encode_seconds"],
        "peak_frames_in_flight": entry["peak_frames_in_flight"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "cpu_ms_per_frame": round(1000 * report["timing"]["cpu_seconds"] / entry["frames"], 1),
        "audio_copied": report["files"][0]["bytes_out"] > 0,
        "torch_loaded": "TORCH_LOADED=True" in result.stderr,
    }


def memory(
    videos: list[dict], long_run: dict, frames: int, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> dict[str, object]:
    """Peak RSS on the clip and on the long one, beside what holding every frame would add."""
    frame_mb = size[0] * size[1] * 3 / 2**20
    extra = long_run["frames"] - frames
    return {
        "frame_mb": round(frame_mb, 2),
        "short_peak_rss_mb": statistics.median(v["peak_rss_mb"] for v in videos),
        "long_frames": long_run["frames"],
        "long_peak_rss_mb": long_run["peak_rss_mb"],
        "extra_frames": extra,
        "if_all_frames_were_held_mb": round(extra * frame_mb, 1),
        "long_peak_frames_in_flight": long_run["peak_frames_in_flight"],
    }


def uhd_memory(work: Path, frames: int, factor: int, threads: int) -> dict[str, object]:
    """The same memory check at 3840×2160 with a one-convolution model, so the codec's and
    the pipeline's buffers, not the model, decide the peak. The decoder's and the encoder's
    buffers fill over the first ~20 frames, so the short clip should not be shorter."""
    model_path = work / "uhd.onnx"
    make_model(model_path, layers=1)
    runs = []
    for count in (frames, frames * factor):
        clip = work / f"uhd{count}.mp4"
        make_clip(clip, count, UHD)
        runs.append(video_run(model_path, clip, work / f"uhd_out{count}", threads))
    return memory(runs[:1], runs[1], frames, UHD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="alternating model/video rounds")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--long-factor", type=int, default=4)
    parser.add_argument("--width", type=int, default=16, help="channels of the model's layers")
    parser.add_argument("--model", type=Path, help="an imagexform .onnx instead of the small net")
    parser.add_argument("--size", default=f"{WIDTH}x{HEIGHT}", help="the clip's WxH")
    parser.add_argument("--video-preset", help="x264 preset for the batch run")
    parser.add_argument(
        "--uhd-frames", type=int, default=24, help="4K memory check, ×3 for the long clip; 0: skip"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        clip, long_clip = work / "clip.mp4", work / "long.mp4"
        size = tuple(int(n) for n in args.size.split("x"))
        make_clip(clip, args.frames, size)
        make_clip(long_clip, args.frames * args.long_factor, size)
        model_path = args.model or work / "net.onnx"
        if args.model is None:
            make_model(model_path, width=args.width)
        models, videos = [], []
        for index in range(args.rounds):  # alternating, so machine load hits both alike
            models.append(pure_model(model_path, clip, args.threads))
            out = work / f"out{index}"
            videos.append(video_run(model_path, clip, out, args.threads, args.video_preset))
        long_out = work / "long_out"
        long_run = video_run(model_path, long_clip, long_out, args.threads, args.video_preset)
        uhd = uhd_memory(work, args.uhd_frames, 3, args.threads) if args.uhd_frames else None

    model_rate = statistics.median(m["frames_per_second"] for m in models)
    video_rate = statistics.median(v["frames_per_second"] for v in videos)
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
                "frame_size": list(size),
                "frames": args.frames,
                "model": str(args.model) if args.model else f"small net, width {args.width}",
                "video_preset": args.video_preset or "medium (x264 default)",
                "model_runs": models,
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
                "video_cpu_ms_per_frame": statistics.median(v["cpu_ms_per_frame"] for v in videos),
                "memory": memory(videos, long_run, args.frames, size),
                "memory_3840x2160": uhd,
                "torch_loaded": any(v["torch_loaded"] for v in [*videos, long_run]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
