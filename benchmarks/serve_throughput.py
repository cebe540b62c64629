"""Does ``imagexform serve`` keep the model busy under load, and what does the load cost?

Measured in one run, on the shipped ×4 upscaler and small crops of assets/photos:
- ``model``: the model's own throughput, the photos already decoded in memory, calling
  ``RuntimeModel.transform`` in a loop from 1 thread (ONNX Runtime's own thread count) and
  from ``--workers`` threads sharing a session with the server's thread count; the better
  of the two is the baseline;
- ``server``: ``imagexform serve`` in a fresh process, ``--clients`` concurrent clients (one
  asyncio httpx client each, in this process) posting the photos as JPEG and asking for PNG
  back for ``--seconds``: requests/s, p50/p99 latency, status codes;
- ``ratio`` = server requests/s / model images/s (target ≥ 0.9), medians of alternating
  rounds; the server also decodes, encodes and speaks HTTP, and the clients share the CPU;
- the server process's peak resident memory (VmHWM) under that load, and its resident memory
  once started (models loaded), before any request.

Run: .venv/bin/python benchmarks/serve_throughput.py [--size 48] [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np

from imagexform.runtime import RuntimeModel, load_model
from imagexform.serve.config import session_threads

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"
PHOTOS = sorted((ROOT / "assets" / "photos").glob("*.jpg"))


def crops(size: int) -> list[np.ndarray]:
    """One size×size RGB crop from the middle of each photo."""
    images = []
    for path in PHOTOS:
        image = cv2.imread(str(path))[:, :, ::-1]
        top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
        images.append(np.ascontiguousarray(image[top : top + size, left : left + size]))
    return images


def model_rate(
    model: RuntimeModel, images: list[np.ndarray], threads: int, seconds: float
) -> float:
    """Images per second with ``threads`` threads transforming through one session."""
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < stop:
            model.transform(images[done[index] % len(images)])
            done[index] += 1

    began = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - began)


async def load(url: str, bodies: list[bytes], clients: int, seconds: float) -> dict[str, object]:
    """``clients`` clients posting in a loop for ``seconds``: rate, latencies, status codes."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    stop = time.perf_counter() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        sent = index
        while time.perf_counter() < stop:
            began = time.perf_counter()
            response = await http.post(url, content=bodies[sent % len(bodies)])
            latencies.append(time.perf_counter() - began)
            statuses[response.status_code] += 1
            sent += 1

    began = time.perf_counter()
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    wall = time.perf_counter() - began
    return {
        "requests_per_s": round(statuses[200] / wall, 2),
        "p50_ms": round(1000 * statistics.median(latencies)),
        "p99_ms": round(1000 * float(np.percentile(latencies, 99))),
        "requests": sum(statuses.values()),
        "statuses": dict(statuses),
    }


def memory_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(workers: int, clients: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "imagexform", "serve", str(MODEL), "--port", str(port)]
    command += ["--workers", str(workers), "--max-queue", str(clients), "--threads", str(threads)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # start-up takes about a second; give it a minute on a busy machine
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def measure(
    url: str,
    bodies: list[bytes],
    images: list[np.ndarray],
    baselines: dict[str, tuple[RuntimeModel, int]],
    args: argparse.Namespace,
) -> tuple[dict[str, list[float]], list[dict[str, object]]]:
    """Rounds alternating the model alone and the loaded server, after a warm-up of each, so
    drift in the (shared) machine's load hits all alike."""
    asyncio.run(load(url, bodies, 2, 0.5))  # sessions, allocators, connections
    for model, callers in baselines.values():
        model_rate(model, images, callers, 0.5)
    rates: dict[str, list[float]] = {name: [] for name in [*baselines, "server"]}
    served: list[dict[str, object]] = []
    for _ in range(args.rounds):
        for name, (model, callers) in baselines.items():
            rates[name].append(model_rate(model, images, callers, args.seconds))
        served.append(asyncio.run(load(url, bodies, args.clients, args.seconds)))
        rates["server"].append(float(served[-1]["requests_per_s"]))
    return rates, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48, help="photo edge in pixels")
    parser.add_argument("--seconds", type=float, default=4.0, help="load per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="as imagexform serve --threads")
    args = parser.parse_args()

    images = crops(args.size)
    bodies = [cv2.imencode(".jpg", image[:, :, ::-1])[1].tobytes() for image in images]
    split = session_threads(args.threads, args.workers)
    # The model alone, as a plain caller runs it and as the server's workers run it.
    baselines = {
        "1 caller, onnxruntime threads auto": (load_model(MODEL), 1),
        f"{args.workers} callers, {split} thread(s) each": (
            load_model(MODEL, threads=split),
            args.workers,
        ),
    }
    server, base = start_server(args.workers, args.clients, args.threads)
    try:
        idle_mib = memory_mib(server.pid, "VmRSS")
        url = f"{base}/v1/models/{MODEL.stem}/transform?format=png"
        rates, served = measure(url, bodies, images, baselines, args)
        peak_mib = memory_mib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(60)
    medians = {name: round(statistics.median(values), 2) for name, values in rates.items()}
    model_best = max(medians[name] for name in baselines)
    print(
        json.dumps(
            {
                "model": MODEL.name,
                "photo": f"{args.size}x{args.size} JPEG in, PNG x4 out",
                "clients": args.clients,
                "workers": args.workers,
                "onnxruntime_threads_per_worker": split,
                "cpus": os.cpu_count(),
                "model_images_per_s": {name: medians[name] for name in baselines},
                "server_requests_per_s": medians["server"],
                "ratio": round(medians["server"] / model_best, 3),
                "p50_ms": statistics.median(float(r["p50_ms"]) for r in served),
                "p99_ms": statistics.median(float(r["p99_ms"]) for r in served),
                "rounds": served,
                "server_rss_after_start_mib": round(idle_mib, 1),
                "server_peak_rss_mib": round(peak_mib, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
