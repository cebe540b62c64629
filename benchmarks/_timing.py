"""Timing shared by the training benchmarks: contenders interleaved in one run, and our step
built the way the trainer builds it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from imagexform.family import Family, TrainConfig
from imagexform.train.context import TrainContext
from imagexform.train.device import choose_precision, fit_layout
from imagexform.train.ema import WeightAverage


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


def core_step_timer(
    family: Family, config: TrainConfig, batch: Mapping[str, Any], precision: str = "auto"
) -> Callable[[], None]:
    """One training step as the trainer takes it (precision, memory format, fused optimizers,
    EMA when the config keeps one), on a fixed batch: data loading is left out, as it is
    from the plain loops compared against."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    built = family.build(config)
    chosen = fit_layout(
        choose_precision(device, precision, config.channels_last), device, built.values()
    )
    context = TrainContext(device, chosen, config.grad_clip, config.steps)
    nets = {name: context.prepare(net) for name, net in built.items()}
    step = family.train_step(config, nets, context)
    ema = (
        WeightAverage({name: nets[name] for name in family.ema_nets}, config.ema_decay)
        if config.ema_decay > 0
        else None
    )
    moved = context.to_device(batch)

    def run() -> None:
        step(moved)
        if ema is not None:
            ema.update(nets)

    return run
