"""The single-device speed settings: precision choice, mixed precision and torch.compile."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
from click.testing import CliRunner

from imagexform.cli import cli
from imagexform.train.context import TrainContext, load_optimizer_state
from imagexform.train.device import Precision, choose_precision, cpu_has_fast_bf16, fit_layout
from imagexform.train.restore import load_trained

TINY = ["netG=unet_32", "ngf=8", "ndf=8", "image_size=32", "load_size=36", "log_every=1"]
CPU = torch.device("cpu")


def test_cpu_precision_follows_the_hardware():
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    assert cpu_has_fast_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    expected = torch.bfloat16 if cpu_has_fast_bf16() else None
    assert choose_precision(CPU, "auto", True).autocast_dtype == expected
    assert choose_precision(CPU, "auto", True).channels_last == (expected is not None)


def test_explicit_precisions_on_the_cpu():
    assert choose_precision(CPU, "fp32", True) == Precision(None, False, False)
    assert choose_precision(CPU, "bf16", True) == Precision(torch.bfloat16, False, True)
    assert choose_precision(CPU, "bf16", False) == Precision(torch.bfloat16, False, False)


def train(data: Path, run: Path, *settings: str):
    sets = [part for item in [*TINY, *settings] for part in ("--set", item)]
    args = ["train", "pix2pix", "--data", str(data), "--out", str(run), "--device", "cpu", *sets]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_bf16_training_on_the_cpu_gives_finite_losses(make_pairs, tmp_path):
    result = train(make_pairs(), tmp_path / "run", "steps=3", "precision=bf16")
    assert "bfloat16 autocast" in result.output
    trained = load_trained(tmp_path / "run")
    assert all(math.isfinite(float(p.detach().abs().sum())) for p in trained.nets["G"].parameters())
    assert all(p.dtype == torch.float32 for p in trained.nets["G"].parameters())


def test_compiled_training_saves_plain_checkpoints(make_pairs, tmp_path):
    train(make_pairs(), tmp_path / "run", "steps=2", "compile=true", "precision=fp32")
    trained = load_trained(tmp_path / "run")
    assert not any("_orig_mod" in key for key in trained.nets["G"].state_dict())


def test_restored_adam_state_follows_a_channels_last_parameter():
    """Fused Adam reads parameter and moments as flat memory: restored NCHW moments beside a
    channels_last weight would be applied to the wrong elements."""
    context = TrainContext(CPU, Precision(None, False, True), 0.0, 10)
    weight = torch.nn.Parameter(
        torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)
    )
    first = context.adam([weight], 0.1, (0.5, 0.999))
    weight.grad = torch.randn_like(weight)
    first.step()
    saved = copy.deepcopy(first.state_dict())
    for values in saved["state"].values():  # as a checkpoint stores them
        values.update({k: v.contiguous() for k, v in values.items() if v.dim() == 4})
    twin = torch.nn.Parameter(weight.detach().clone())
    second = context.adam([twin], 0.1, (0.5, 0.999))
    load_optimizer_state(second, saved)
    gradient = torch.randn_like(weight)
    weight.grad, twin.grad = gradient.clone(), gradient.clone()
    first.step()
    second.step()
    assert torch.equal(weight.detach(), twin.detach())


def test_channels_last_is_dropped_on_the_cpu_for_instance_norm_networks():
    bf16 = Precision(torch.bfloat16, False, True)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    instance = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.InstanceNorm2d(4))
    assert fit_layout(bf16, CPU, [plain]).channels_last
    assert not fit_layout(bf16, CPU, [plain, instance]).channels_last
    assert fit_layout(bf16, torch.device("cuda"), [instance]).channels_last
