"""The trainer's arithmetic on its own: LR schedules, the weight average, early stopping."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from imagexform.errors import ConfigError
from imagexform.family import TrainConfig
from imagexform.train.ema import WeightAverage
from imagexform.train.schedules import apply_lr, lr_factor
from imagexform.train.trainer import EarlyStopping


def test_cosine_holds_then_follows_half_a_cosine_to_zero() -> None:
    config = TrainConfig(steps=100, lr_schedule="cosine", lr_decay_start=0.2)
    assert [lr_factor(config, step) for step in (0, 19, 20)] == [1.0, 1.0, 1.0]
    assert lr_factor(config, 60) == pytest.approx(0.5)  # halfway through the 80 decay steps
    assert lr_factor(config, 40) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(config, 100) == pytest.approx(0.0, abs=1e-12)
    decaying = [lr_factor(config, step) for step in range(20, 101)]
    assert all(a >= b for a, b in itertools.pairwise(decaying))


def test_cosine_from_the_first_step_when_decay_starts_at_zero() -> None:
    config = TrainConfig(steps=10, lr_schedule="cosine", lr_decay_start=0.0)
    assert lr_factor(config, 0) == 1.0
    assert lr_factor(config, 5) == pytest.approx(0.5)


def test_step_schedule_multiplies_by_gamma_every_interval() -> None:
    config = TrainConfig(steps=100, lr_schedule="step", lr_step_every=30, lr_gamma=0.1)
    factors = [lr_factor(config, step) for step in (0, 29, 30, 59, 60, 90)]
    assert factors == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.001])


def test_apply_lr_scales_every_group_from_its_initial_lr() -> None:
    net = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(
        [{"params": [net.weight], "lr": 1.0}, {"params": [net.bias], "lr": 0.5}]
    )
    config = TrainConfig(steps=100, lr_schedule="step", lr_step_every=10, lr_gamma=0.5)
    apply_lr({"G": optimizer}, config, 10)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.25]
    apply_lr({"G": optimizer}, config, 20)  # from the initial LR, not compounding
    assert [g["lr"] for g in optimizer.param_groups] == [0.25, 0.125]


def test_weight_average_is_an_exponential_moving_average() -> None:
    net = nn.BatchNorm1d(1)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage({"G": net}, decay=0.9)
    for value in (10.0, 10.0):
        with torch.no_grad():
            net.weight.fill_(value)
        net.num_batches_tracked += 1
        average.update({"G": net})
    averaged = average.nets["G"]
    # 0 -> 0.9*0 + 0.1*10 = 1 -> 0.9*1 + 0.1*10 = 1.9
    assert averaged.weight.item() == pytest.approx(1.9)
    assert averaged.num_batches_tracked.item() == 2  # integer buffers are copied, not averaged
    assert not averaged.weight.requires_grad and not averaged.training
    assert net.weight.item() == 10.0


def test_weight_average_state_round_trips() -> None:
    net = nn.Linear(2, 1)
    average = WeightAverage({"G": net}, decay=0.5)
    copy = WeightAverage({"G": nn.Linear(2, 1)}, decay=0.5)
    copy.load_state_dicts(average.state_dicts())
    assert torch.equal(copy.nets["G"].weight, average.nets["G"].weight)


def test_early_stopping_counts_validations_without_improvement() -> None:
    stopping = EarlyStopping("val/psnr", "max", patience=2)
    assert not stopping.should_stop({"val/psnr": 20.0})
    assert not stopping.should_stop({"val/psnr": 19.0})  # one bad
    assert not stopping.should_stop({"val/psnr": 21.0})  # improvement resets the count
    assert not stopping.should_stop({"val/psnr": 21.0})  # equal is not an improvement
    assert stopping.should_stop({"val/psnr": 20.5})
    assert stopping.best == 21.0


def test_early_stopping_in_min_mode_and_its_state_resumes() -> None:
    stopping = EarlyStopping("val/l1", "min", patience=1)
    assert not stopping.should_stop({"val/l1": 0.5})
    assert not stopping.should_stop({"val/l1": 0.4})
    resumed = EarlyStopping("val/l1", "min", patience=1)
    resumed.load_state_dict(stopping.state_dict())
    assert resumed.should_stop({"val/l1": 0.45})


def test_early_stopping_is_off_without_a_metric_and_names_the_available_ones() -> None:
    assert not EarlyStopping("", "max", patience=1).should_stop({"val/l1": 1.0})
    with pytest.raises(ConfigError, match="'val/fid' is not computed; available: val/l1"):
        EarlyStopping("val/fid", "max", patience=1).should_stop({"val/l1": 1.0})
