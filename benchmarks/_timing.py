"""Timing shared by the training benchmarks: contenders interleaved in one run, and our step
built the way the trainer builds it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from _medians import interleaved_medians

from imagexform.family import Family, TrainConfig
from imagexform.train.context import TrainContext
from imagexform.train.device import choose_precision, fit_layout
from imagexform.train.ema import WeightAverage


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


def compare_with_plain(
    family: Family,
    config: TrainConfig,
    batch: Mapping[str, Any],
    plain: Callable[[], None],
    repeats: int,
) -> dict[str, float]:
    """Seconds per step of a plain reference-style loop, our step in fp32 (the framework's
    own cost) and our step with the default precision, interleaved; ratios plain / ours."""
    medians = interleaved_medians(
        {
            "plain": plain,
            "ours_fp32": core_step_timer(family, config, batch, "fp32"),
            "ours_default": core_step_timer(family, config, batch, "auto"),
        },
        repeats,
    )
    report = {f"{name}_s_per_step": round(value, 3) for name, value in medians.items()}
    report["ratio_plain_over_ours_fp32"] = round(medians["plain"] / medians["ours_fp32"], 2)
    report["ratio_plain_over_ours_default"] = round(medians["plain"] / medians["ours_default"], 2)
    return report


def print_report(title: str, repeats: int, results: Mapping[str, Any]) -> None:
    """The JSON every training benchmark prints, with what the figures depend on."""
    print(
        json.dumps(
            {
                "benchmark": title,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "load_average": os.getloadavg()[0],
                "repeats": repeats,
                **results,
            },
            indent=2,
        )
    )
