"""Contenders timed in one run, interleaved so that drift in machine load hits all alike.
Torch-free, so the runtime benchmarks can use it too."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleaved_medians(
    steps: Mapping[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Median seconds per call of each contender. They alternate within each round so drift in
    machine load hits all alike; one warm-up call each fills allocator and oneDNN caches."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}
