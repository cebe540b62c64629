"""Device and precision choice, kept in one place so every family trains the same way."""

from __future__ import annotations

from dataclasses import dataclass

import torch

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


def choose_precision(device: torch.device, precision: str, channels_last: bool) -> Precision:
    """Autocast and channels_last on CUDA by default: bf16 where supported, else fp16 with a
    gradient scaler (fp16 gradients underflow without one). CPU trains in fp32 unless bf16 is
    asked for: reduced precision changes results, so it is a choice, not a default."""
    on_cuda = device.type == "cuda"
    layout = channels_last and on_cuda
    if precision == "fp32" or (precision == "auto" and not on_cuda):
        return Precision(autocast_dtype=None, use_grad_scaler=False, channels_last=layout)
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return Precision(torch.bfloat16, False, layout)
    return Precision(torch.float16, True, layout)
