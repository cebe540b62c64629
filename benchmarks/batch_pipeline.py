"""Does ``imagexform batch`` keep the model busy? And does it start fast, without torch?

Measured in one run on the same model and photos:
- ``model``: pure model throughput — the 50 photos already decoded in memory, one
  ``RuntimeModel.transform`` call each, nothing else running;
- ``batch``: ``imagexform batch`` over the same photos as files (decode, model, encode, atomic
  writes), in a fresh process; images/s over the pipeline's wall time from its report, and
  the end-to-end process time beside it;
- ``ratio`` = batch / model images/s (the target is ≥ 0.90), medians of alternating rounds;
  CPU milliseconds per image on both sides show the work the pipeline adds, whatever else
  the (shared) machine is doing;
- start-up: ``imagexform batch --help`` wall time (median of several runs), and whether torch
  was in ``sys.modules`` at the end of the batch run.

The photos are 1024×768 crops of assets/photos (resized, shifted and flipped so that no two
are alike); the model is a small fully convolutional net built here with onnx.helper (four
3×3 convolutions, 16 channels at full resolution) that costs on the order of 100 ms per photo
on a 2-core CPU, like a light pix2pix generator; ``--model FILE`` runs any imagexform model
instead (e.g. a published-size TransformerNet), on photos of ``--size``.

Run: .venv/bin/python benchmarks/batch_pipeline.py [--photos 50] [--jobs 2] [--rounds 3]
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

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from imagexform.family import IOSpec
from imagexform.io.images import read_image
from imagexform.modelinfo import IMAGE_INPUT, METADATA_KEY, OUTPUT, ModelInfo
from imagexform.runtime import load_model

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "photos"
WIDTH, HEIGHT = 1024, 768

# Runs the CLI exactly as users get it; reports whether torch was imported and the
# process's peak resident memory (video_pipeline.py reads both).
CLI_SCRIPT = """
import resource, sys
from imagexform.cli import cli
try:
    cli(sys.argv[1:])
finally:
    print("TORCH_LOADED=" + str("torch" in sys.modules), file=sys.stderr)
    print(f"PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def make_photos(folder: Path, count: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[Path]:
    width, height = size
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png"))
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        image = cv2.imread(str(sources[index % len(sources)]), cv2.IMREAD_COLOR)
        zoom = 1.0 + 0.5 * rng.random()
        scale = max(width / image.shape[1], height / image.shape[0]) * zoom
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        top = int(rng.integers(0, resized.shape[0] - height + 1))
        left = int(rng.integers(0, resized.shape[1] - width + 1))
        crop = resized[top : top + height, left : left + width]
        if index % 2:
            crop = crop[:, ::-1]
        path = folder / f"photo_{index:03d}.jpg"
        cv2.imwrite(str(path), np.ascontiguousarray(crop), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def make_model(path: Path, width: int = 16, layers: int = 4) -> None:
    """Conv-ReLU layers at full resolution ending in tanh, as a generator ends."""
    rng = np.random.default_rng(0)
    nodes, weights = [], []
    current, channels = IMAGE_INPUT, 3
    for layer in range(layers):
        last = layer == layers - 1
        out_channels = 3 if last else width
        weight = rng.normal(0, (2 / (channels * 9)) ** 0.5, (out_channels, channels, 3, 3))
        weights += [
            numpy_helper.from_array(weight.astype(np.float32), f"w{layer}"),
            numpy_helper.from_array(np.zeros(out_channels, np.float32), f"b{layer}"),
        ]
        inputs = [current, f"w{layer}", f"b{layer}"]
        nodes.append(helper.make_node("Conv", inputs, [f"c{layer}"], pads=[1, 1, 1, 1]))
        current = OUTPUT if last else f"h{layer}"
        nodes.append(helper.make_node("Tanh" if last else "Relu", [f"c{layer}"], [current]))
        channels = out_channels
    dims = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        nodes,
        "bench",
        [helper.make_tensor_value_info(IMAGE_INPUT, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, dims)],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10  # onnx 1.23 defaults to 14, which onnxruntime 1.31 refuses
    info = ModelInfo(family="bench", io=IOSpec(), title="batch benchmark net")
    helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def time_transforms(
    model_path: Path, images: list[np.ndarray], threads: int
) -> tuple[float, float, str]:
    """Wall and CPU seconds of one untiled transform per image, nothing else running (after a
    warm-up: allocations, kernel selection), and the provider that ran them."""
    model = load_model(model_path, device="cpu", threads=threads)
    model.transform(images[0], tile_size=0)
    began, cpu = time.perf_counter(), time.process_time()
    for image in images:
        model.transform(image, tile_size=0)
    return time.perf_counter() - began, time.process_time() - cpu, model.provider


def pure_model(model_path: Path, photos: list[Path], threads: int) -> dict[str, object]:
    images = [read_image(p) for p in photos]
    seconds, cpu, provider = time_transforms(model_path, images, threads)
    return {
        "seconds": round(seconds, 3),
        "ms_per_image": round(1000 * seconds / len(images), 1),
        "cpu_ms_per_image": round(1000 * cpu / len(images), 1),
        "images_per_second": round(len(images) / seconds, 3),
        "provider": provider,
    }


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *args], capture_output=True, text=True, check=False
    )
    return result, time.perf_counter() - began


def batch_run(
    model_path: Path, photos_dir: Path, out: Path, jobs: int, threads: int
) -> dict[str, object]:
    report_path = out.parent / f"{out.name}.json"
    result, seconds = run_cli(
        "batch",
        str(photos_dir),
        str(out),
        "--model",
        str(model_path),
        "--device",
        "cpu",
        "--threads",
        str(threads),
        "--jobs",
        str(jobs),
        "--tile",
        "0",
        "--report",
        str(report_path),
    )
    if result.returncode != 0:
        raise SystemExit(f"batch failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(report_path.read_text())
    timing, ok = report["timing"], report["totals"]["ok"]
    return {
        "end_to_end_seconds": round(seconds, 3),
        "pipeline_seconds": timing["wall_seconds"],
        "images_per_second": report["totals"]["images_per_second"],
        "cpu_ms_per_image": round(1000 * timing["cpu_seconds"] / ok, 1),
        "model_seconds": timing["model_seconds"],
        "model_wait_seconds": timing["model_wait_seconds"],
        "decode_seconds": timing["decode_seconds"],
        "encode_seconds": timing["encode_seconds"],
        "load_seconds": timing["load_seconds"],
        "ok": ok,
        "torch_loaded": "TORCH_LOADED=True" in result.stderr,
    }


def help_seconds(repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        result, seconds = run_cli("batch", "--help")
        if result.returncode != 0 or "--max-pixels" not in result.stdout:
            raise SystemExit(f"batch --help failed:\n{result.stderr}")
        times.append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating model/batch rounds")
    parser.add_argument("--repeats", type=int, default=5, help="--help timings")
    parser.add_argument("--model", type=Path, help="an imagexform .onnx instead of the small net")
    parser.add_argument("--size", default=f"{WIDTH}x{HEIGHT}", help="the photos' WxH")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        photos_dir = work / "photos"
        photos_dir.mkdir()
        size = tuple(int(n) for n in args.size.split("x"))
        photos = make_photos(photos_dir, args.photos, size)
        model_path = args.model or work / "net.onnx"
        if args.model is None:
            make_model(model_path)
        # Alternating, so that a noisy neighbour does not favour either side; medians.
        models, batches = [], []
        for index in range(args.rounds):
            models.append(pure_model(model_path, photos, args.threads))
            out = work / f"out{index}"
            batches.append(batch_run(model_path, photos_dir, out, args.jobs, args.threads))
        helps = help_seconds(args.repeats)

    model_rate = statistics.median(m["images_per_second"] for m in models)
    batch_rate = statistics.median(b["images_per_second"] for b in batches)
    ratios = [
        b["images_per_second"] / m["images_per_second"]
        for m, b in zip(models, batches, strict=True)
    ]
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
                "photos": args.photos,
                "photo_size": list(size),
                "model_file": str(args.model) if args.model else "small net",
                "jobs": args.jobs,
                "model": models,
                "batch": batches,
                "model_images_per_second": round(model_rate, 3),
                "batch_images_per_second": round(batch_rate, 3),
                "ratio": round(batch_rate / model_rate, 3),
                "ratio_per_round": [round(r, 3) for r in ratios],
                "target_ratio": 0.9,
                "model_cpu_ms_per_image": statistics.median(m["cpu_ms_per_image"] for m in models),
                "batch_cpu_ms_per_image": statistics.median(b["cpu_ms_per_image"] for b in batches),
                "help_seconds": [round(s, 3) for s in helps],
                "help_seconds_median": round(statistics.median(helps), 3),
                "torch_loaded_during_batch": any(b["torch_loaded"] for b in batches),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
