"""Device and precision choice, kept in one place so every family trains the same way."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from imagexform.errors import UserError


@dataclass(frozen=True)
class Precision:
    """What autocast and gradient scaling to use on the chosen device."""

    autocast_dtype: torch.dtype | None  # None: plain fp32
    use_grad_scaler: bool
    channels_last: bool


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; explicit names are validated."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r}: not a device name (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return device


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), where bf16 autocast
    trains 1.4-2x faster than fp32 (benchmarks/train_speed.py). Elsewhere bf16 is emulated
    and slower, so it is not the default there."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def choose_precision(device: torch.device, precision: str, channels_last: bool) -> Precision:
    """``auto`` uses autocast wherever the hardware makes it pay: on CUDA bf16 where
    supported, else fp16 with a gradient scaler (fp16 gradients underflow without one); on
    CPUs with native bf16 kernels, bf16. Losses of short runs stay within the noise of fp32
    (benchmarks/train_speed.py). channels_last goes with autocast: oneDNN's and cuDNN's
    reduced-precision convolutions are fastest in it, while fp32 on the CPU gains little."""
    on_cuda = device.type == "cuda"
    if precision == "auto" and not on_cuda:
        precision = "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"
    if precision == "fp32":
        return Precision(autocast_dtype=None, use_grad_scaler=False, channels_last=False)
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return Precision(torch.bfloat16, False, channels_last)
    return Precision(torch.float16, True, channels_last)


def fit_layout(precision: Precision, device: torch.device, nets: Iterable[nn.Module]) -> Precision:
    """``precision`` without channels_last on the CPU when a network has InstanceNorm: it has
    no channels_last CPU kernel, so every call copies to NCHW and back, which cost CycleGAN's
    resnet_9blocks 30% of its bf16 step (benchmarks/train_step_cyclegan.py)."""
    if not precision.channels_last or device.type != "cpu":
        return precision
    if any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for n in nets for m in n.modules()):
        return dataclasses.replace(precision, channels_last=False)
    return precision
