"""ONNX Runtime fp32 (our session) against OpenVINO f32 and bf16 on the same ONNX files, at the
sizes users feed them (256², 128² for upscalers; ``--size`` overrides), on a real photo crop.
Interleaved medians in one run, ratios to ONNX Runtime, and PSNR of each 8-bit output against
ONNX Runtime's: what ``--device auto`` and ``--precision fast`` choose between.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/runtime_engines.py MODEL.onnx ... \
    [--repeats 5] [--size N]
(default: the shipped ×4 upscaler)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _medians import interleaved_medians
from _photos import mosaic, psnr

from imagexform.runtime import load_model, processing
from imagexform.runtime.engines import on_openvino
from imagexform.runtime.model import RuntimeModel

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "models" / "imagexform-sr-x4.onnx"


def batch_for(model: RuntimeModel, size: int | None) -> np.ndarray:
    io = model.info.io
    edge = size or (128 if io.scale > 1 else 256)
    edge = -(-edge // io.size_multiple) * io.size_multiple
    height, width = model.fixed_size or (edge, edge)
    pixels = processing.prepare(mosaic((height, width)), io).pixels
    return pixels.transpose(2, 0, 1)[None]


def as_uint8(model: RuntimeModel, output: np.ndarray) -> np.ndarray:
    low, high = model.info.io.value_range
    return np.round(np.clip((output - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def measure(path: Path, repeats: int, size: int | None) -> dict:
    base = load_model(path, device="cpu", precision="fp32")
    contenders = {
        "onnxruntime_fp32": base,
        "openvino_f32": on_openvino(base, 0, "f32"),
        "openvino_bf16": on_openvino(base, 0, "bf16"),
    }
    batch = batch_for(base, size)
    reference = as_uint8(base, base.run(batch))
    medians = interleaved_medians(
        {name: (lambda m=m: m.run(batch)) for name, m in contenders.items()}, repeats
    )
    first = medians["onnxruntime_fp32"]
    return {
        "model": path.name,
        "input": list(batch.shape),
        "seconds": {name: round(value, 4) for name, value in medians.items()},
        "speedup": {name: round(first / value, 2) for name, value in medians.items()},
        "psnr_db_vs_onnxruntime": {
            name: psnr(as_uint8(base, model.run(batch)), reference)
            for name, model in contenders.items()
            if model is not base
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[SHIPPED])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    results = [measure(path, args.repeats, args.size) for path in args.models]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
