"""Learning-rate schedules as pure functions of the step.

The LR is derived from the step rather than carried in scheduler state, so resuming, or resuming
with a larger ``steps``, needs nothing but the step count.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer

from imagexform.family import TrainConfig


def lr_factor(config: TrainConfig, step: int, steps_per_epoch: float = 1.0) -> float:
    """Multiplier of the base LR at ``step`` (0-based, before that step's update)."""
    if config.lr_schedule == "constant":
        return 1.0
    if config.lr_schedule == "step":
        return config.lr_gamma ** (step // max(1, config.lr_step_every))
    if config.lr_schedule == "linear_epochs":
        return _reference_linear(config, step, steps_per_epoch)
    decay_start = int(config.lr_decay_start * config.steps)
    if step < decay_start:
        return 1.0
    decay_steps = max(1, config.steps - decay_start)
    progress = min(1.0, (step - decay_start) / decay_steps)
    if config.lr_schedule == "linear":  # junyanz: constant, then linear to zero
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _reference_linear(config: TrainConfig, step: int, steps_per_epoch: float) -> float:
    """junyanz's ``lambda_rule``: ``n_epochs`` at full LR, then ``1 - (epoch + 1 - n_epochs)
    / (n_epochs_decay + 1)``, epochs counted from 0, the LR changing only between epochs."""
    total_epochs = max(1, round(config.steps / steps_per_epoch))
    n_epochs = round(config.lr_decay_start * total_epochs)
    n_epochs_decay = total_epochs - n_epochs
    epoch = int(step // steps_per_epoch)
    return 1.0 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)


def apply_lr(
    optimizers: dict[str, Optimizer], config: TrainConfig, step: int, steps_per_epoch: float = 1.0
) -> float:
    """Set every param group's LR from its initial LR; returns the factor applied.
    ``steps_per_epoch`` matters only to the epoch-wise schedule."""
    factor = lr_factor(config, step, steps_per_epoch)
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor
    return factor
