"""What a family's TrainStep gets from the trainer: device, precision and the backward step.

Families call :meth:`TrainContext.optimize` instead of ``loss.backward(); opt.step()`` so that
gradient scaling, clipping and (later) distributed concerns are applied in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from imagexform.train.device import Precision


class TrainContext:
    def __init__(
        self, device: torch.device, precision: Precision, grad_clip: float, total_steps: int
    ) -> None:
        self.device = device
        self.precision = precision
        self.grad_clip = grad_clip
        self.total_steps = total_steps
        self.step = 0  # steps completed before the current one; kept current by the trainer
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)

    @property
    def progress(self) -> float:
        """Fraction of training done, for annealed settings such as instance noise."""
        return self.step / max(1, self.total_steps)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward passes; a no-op in fp32."""
        dtype = self.precision.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def to_device(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Move tensors of a batch to the device (in channels_last where enabled)."""
        moved = {}
        for key, value in batch.items():
            if isinstance(value, Tensor):
                value = value.to(self.device, non_blocking=True)
                if self.precision.channels_last and value.dim() == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
            moved[key] = value
        return moved

    def prepare(self, net: nn.Module) -> nn.Module:
        """Put a network on the device in the memory format training uses."""
        net.to(self.device)
        if self.precision.channels_last:
            net.to(memory_format=torch.channels_last)
        return net

    def optimize(self, loss: Tensor, optimizer: Optimizer) -> None:
        """Backward, optional gradient clipping, optimizer step, zeroed gradients."""
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(optimizer)
            parameters = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(parameters, self.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()

    @staticmethod
    @contextlib.contextmanager
    def frozen(*nets: nn.Module) -> Iterator[None]:
        """Stop gradients into ``nets`` (e.g. D during the G step) and restore them after."""
        previous = [[p.requires_grad for p in net.parameters()] for net in nets]
        for net in nets:
            net.requires_grad_(False)
        try:
            yield
        finally:
            for net, flags in zip(nets, previous, strict=True):
                for parameter, flag in zip(net.parameters(), flags, strict=True):
                    parameter.requires_grad_(flag)
