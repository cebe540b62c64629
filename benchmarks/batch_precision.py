"""``imagexform batch --precision fast`` against ``--precision fp32`` on the same photos, as a
user runs them: the issue 23 goal is fast ≥ 3× fp32 at ≥ 40 dB worst-case PSNR on the shipped
×4 upscaler. Photos are 256² area-downscaled copies of ``assets/photos`` (what users feed an
upscaler). A first ``fast`` run prepares the verdict (timed apart, once per model and
machine); then fp32 and fast alternate, and each round's outputs are compared.

Prints JSON: median seconds per run, speed-up, what fast picked and the PSNR of fast outputs
against fp32 outputs (worst photo). fp32 runs twice: on ONNX Runtime (``--device cpu``, the
issue's "current fp32") and with the default ``--device auto``, which takes OpenVINO f32 where
installed and measured faster.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/batch_precision.py \
    [--model assets/models/imagexform-sr-x4.onnx] [--rounds 3] [--size 256]
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
from _photos import PHOTOS, photos, psnr

from imagexform.io.images import read_image, write_image_atomic

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"


def write_inputs(folder: Path, size: int) -> None:
    folder.mkdir(parents=True)
    for path, image in zip(PHOTOS, photos(), strict=True):
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        write_image_atomic(folder / f"{path.stem}.png", small)


# The "current fp32" is ONNX Runtime's; with the openvino extra, plain fp32 (device
# auto) may itself run on OpenVINO f32 where that measured faster.
CONTENDERS = {
    "fp32_onnxruntime": ["--precision", "fp32", "--device", "cpu"],
    "fp32": ["--precision", "fp32"],
    "fast": ["--precision", "fast"],
}


def batch(model: Path, inputs: Path, output: Path, flags: list[str], env: dict) -> dict:
    report = output.with_suffix(".json")
    command = [sys.executable, "-m", "imagexform", "batch", str(inputs), str(output)]
    command += ["--model", str(model), *flags, "--report", str(report), "--overwrite"]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "report": json.loads(report.read_text())}


def worst_psnr(fast: Path, fp32: Path) -> float:
    return min(psnr(read_image(path), read_image(fp32 / path.name)) for path in fast.glob("*.png"))


def measure(model: Path, rounds: int, size: int, work: Path) -> dict:
    env = dict(os.environ, IMAGEXFORM_CACHE_DIR=str(work / "cache"))
    inputs = work / "in"
    write_inputs(inputs, size)
    prepared = batch(model, inputs, work / "prepare", CONTENDERS["fast"], env)
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    photo_times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for index in range(rounds):
        for name, flags in CONTENDERS.items():
            result = batch(model, inputs, work / f"{name}{index}", flags, env)
            times[name].append(result["seconds"])
            photo_times[name].append(result["report"]["timing"]["wall_seconds"])
    medians = {name: statistics.median(values) for name, values in times.items()}
    photos_only = {name: statistics.median(values) for name, values in photo_times.items()}
    picked = prepared["report"]["model"]
    fp32 = [name for name in CONTENDERS if name != "fast"]
    return {
        "model": model.name,
        "photos": len(PHOTOS),
        "size": size,
        "prepare_seconds": round(prepared["seconds"], 2),
        "median_seconds": {name: round(value, 2) for name, value in medians.items()},
        "fast_speedup_over": {name: round(medians[name] / medians["fast"], 2) for name in fp32},
        # the same without process start and model loading: what a large folder converges to
        "median_photo_seconds": {name: round(value, 2) for name, value in photos_only.items()},
        "fast_photo_speedup_over": {
            name: round(photos_only[name] / photos_only["fast"], 2) for name in fp32
        },
        "fast_picked": picked["precision"],
        "provider": picked["provider"],
        "measured_at_prepare": picked.get("precision_measured"),
        "worst_psnr_db_fast_vs_fp32": worst_psnr(work / "fast0", work / "fp32_onnxruntime0"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    results = []
    for model in args.model or [SHIPPED]:
        with tempfile.TemporaryDirectory() as work:
            results.append(measure(model.resolve(), args.rounds, args.size, Path(work)))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
