"""Session settings per model: our plain session against the same with denormals flushed to
zero (what :mod:`imagexform.runtime.tuning` measures and caches), on each model's probe image,
in both orders (a session's worker threads can still hold the cores when the next starts).
Also the verdict ``load_model`` cached. Prints JSON: median seconds and ratios to plain.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/runtime_session_tuning.py \
    [model.onnx ...] [--repeats 7] [--threads 0]
(default: the shipped ×4 upscaler, assets/models/imagexform-sr-x4.onnx)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import onnxruntime as ort
from _medians import interleaved_medians

from imagexform.runtime import load_model
from imagexform.runtime.session import CPU, session_options
from imagexform.runtime.tuning import probe

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "models" / "imagexform-sr-x4.onnx"


def contenders(path: Path, threads: int) -> dict[str, ort.InferenceSession]:
    options = {
        "plain": session_options(threads),
        "flushed": session_options(threads, flush_denormals=True),
        "plain_again": session_options(threads),
    }
    return {
        name: ort.InferenceSession(str(path), value, providers=[CPU])
        for name, value in options.items()
    }


def measure(path: Path, repeats: int, threads: int) -> dict:
    model = load_model(path, device="cpu", threads=threads)
    batch = probe(model)
    feeds = model.feeds(batch)
    sessions = contenders(path, threads)
    medians = interleaved_medians(
        {name: (lambda s=s: s.run(None, feeds)) for name, s in sessions.items()}, repeats
    )
    tuning = model.session_tuning
    return {
        "model": path.name,
        "input": list(batch.shape),
        "seconds": {name: round(value, 4) for name, value in medians.items()},
        "speedup_vs_plain": {
            name: round(medians["plain"] / value, 3) for name, value in medians.items()
        },
        "verdict": asdict(tuning) if tuning else {"flush_denormals": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[SHIPPED])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    results = [measure(path, args.repeats, args.threads) for path in args.models]
    print(json.dumps({"onnxruntime": ort.__version__, "results": results}, indent=1))


if __name__ == "__main__":
    main()
