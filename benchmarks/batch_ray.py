"""What does ``imagexform batch --engine ray`` cost against local batch, and does its driver
stay small with a huge listing?

Measured in one run:
- ``throughput``: the same photos and model through ``--engine local`` (one process, the
  decode/model/encode pipeline) and ``--engine ray --workers 2`` (a local Ray started by the
  command, two actors each with the model), each in a fresh process, alternating rounds,
  medians. ``images_per_second`` is over the run's wall time from its report (Ray's includes
  connecting, starting the actors and loading the model in each); ``end_to_end_seconds`` is
  the whole process, Ray's start-up included. ``ratio`` = ray / local images/s: on one small
  machine both engines share the same CPUs, so this is the overhead Ray adds, not a speed-up.
- ``driver_memory``: N tiny input files listed, planned and turned into the rows handed to
  Ray Data, the Python heap's peak (tracemalloc) over that, per input: the rows hold paths,
  never pixels.

Run: .venv/bin/python benchmarks/batch_ray.py [--photos 24] [--rounds 2] [--listed 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import tracemalloc
from pathlib import Path

from batch_pipeline import make_model, make_photos, run_cli

from imagexform.batch.discover import discover
from imagexform.batch.pipeline import Task
from imagexform.batch.plan import plan
from imagexform.batch.ray_engine import task_rows


def one_run(engine: str, model: Path, photos: Path, out: Path) -> dict[str, float]:
    report = out.parent / f"{out.name}.json"
    args = ["batch", str(photos), str(out), "-m", str(model), "--device", "cpu", "--tile", "0"]
    args += ["--engine", engine, "--report", str(report), "--threads", "1", "--jobs", "2"]
    if engine == "ray":
        args += ["--workers", "2"]
    result, seconds = run_cli(*args)
    if result.returncode != 0:
        raise SystemExit(f"{engine} batch failed ({result.returncode}):\n{result.stderr[-3000:]}")
    totals = json.loads(report.read_text())["totals"]
    return {"images_per_second": totals["images_per_second"], "end_to_end_seconds": seconds}


def throughput(folder: Path, count: int, rounds: int) -> dict[str, object]:
    photos = folder / "photos"
    photos.mkdir()
    make_photos(photos, count)
    model = folder / "bench.onnx"
    make_model(model)
    runs: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    for index in range(rounds):
        for engine in runs:
            runs[engine].append(one_run(engine, model, photos, folder / f"{engine}{index}"))
    medians = {
        engine: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]}
        for engine, rs in runs.items()
    }
    local, ray = medians["local"]["images_per_second"], medians["ray"]["images_per_second"]
    return {"photos": count, "rounds": rounds, **medians, "ratio": round(ray / local, 3)}


def driver_memory(folder: Path, count: int) -> dict[str, object]:
    inputs = folder / "tiny"
    inputs.mkdir()
    pixel = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
    )
    for index in range(count):
        (inputs / f"{index:07d}.png").write_bytes(pixel)
    tracemalloc.start()
    found = discover(str(inputs))
    planned = plan(found.sources, folder / "out", fields={"model": "m", "family": "f", "scale": 1})
    rows = task_rows([Task(p.source, p.target) for p in planned])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "inputs": len(rows),
        "peak_mib": round(peak / 2**20, 1),
        "bytes_per_input": int(peak / len(rows)),
        "input_file_bytes": len(pixel),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--listed", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        result = {
            "throughput": throughput(folder, args.photos, args.rounds),
            "driver_memory": driver_memory(folder, args.listed),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
