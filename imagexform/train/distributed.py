"""Training on several processes (``torchrun``) with PyTorch's own collectives.

Every rank holds the same networks and applies the same averaged gradients, so they stay
identical without wrapping them in ``DistributedDataParallel``. The wrapper is not used
because GAN steps break its assumptions: a discriminator runs forward on real and fake
batches before one backward, and is frozen during the generator's update, which DDP's reducer
reports as unused parameters or a second forward. Averaging in :meth:`TrainContext.optimize`
works for any step a family writes; what is given up is DDP's overlap of communication with
backward, which on the CPU (gloo) matters little next to the step itself.

BatchNorm running statistics are taken from rank 0 after every step, as DDP's
``broadcast_buffers`` does; ``sync_batchnorm`` (CUDA only) normalises with the statistics of
the whole global batch instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from imagexform.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; one process when not launched by
    ``torchrun`` (which sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``)."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """The one process that logs, samples, validates and saves."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_environment(cls) -> World:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), size)

    def join(self, device: torch.device) -> torch.device:
        """Connect to the other processes; the device this rank trains on (its own GPU on a
        CUDA node, where ``device`` names no index)."""
        if not self.distributed:
            return device
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def leave(self, together: bool) -> None:
        """Disconnect. ``together`` (the run ended on every rank at the same step, finished or
        interrupted) waits for the others first: a gloo rank tearing its group down while
        another is still saving aborted at exit now and then (1 run in 10 here). After an
        error on one rank, waiting could hang, so that rank just leaves."""
        if self.distributed and dist.is_initialized():
            if together:
                dist.barrier()
            dist.destroy_process_group()

    def any(self, flags: tuple[bool, ...], device: torch.device) -> tuple[bool, ...]:
        """Each flag true on every rank when it is true on any, in one all-reduce: ranks must
        agree on when to stop (a Ctrl-C reaches them at different steps) or the collectives
        would hang."""
        if not self.distributed:
            return flags
        values = torch.tensor([int(flag) for flag in flags], device=device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return tuple(bool(value) for value in values.tolist())


def broadcast_state(nets: Mapping[str, nn.Module], world: World) -> None:
    """Make every rank's parameters and buffers rank 0's."""
    if not world.distributed:
        return
    for net in nets.values():
        for tensor in net.state_dict().values():
            dist.broadcast(tensor, src=0)


def broadcast_buffers(nets: Mapping[str, nn.Module], world: World) -> None:
    """Running statistics (BatchNorm) from rank 0, so the saved model is the one every rank
    evaluates with."""
    if not world.distributed:
        return
    for net in nets.values():
        for buffer in net.buffers():
            dist.broadcast(buffer, src=0)


def average_gradients(parameters: Iterable[nn.Parameter], world: World) -> None:
    """Replace each gradient by its mean over the ranks, in one flat all-reduce per dtype.

    Only parameters with a gradient take part; every rank runs the same step code, so the
    set is the same on all of them.
    """
    if not world.distributed:
        return
    grads: dict[torch.dtype, list[torch.Tensor]] = {}
    for parameter in parameters:
        if parameter.grad is not None:
            grads.setdefault(parameter.grad.dtype, []).append(parameter.grad)
    for group in grads.values():
        flat = torch.cat([grad.reshape(-1) for grad in group])
        dist.all_reduce(flat)
        flat /= world.size
        offset = 0
        for grad in group:
            count = grad.numel()
            grad.copy_(flat[offset : offset + count].view_as(grad))
            offset += count


def sync_batchnorm(nets: dict[str, nn.Module], device: torch.device) -> dict[str, nn.Module]:
    """BatchNorm layers that normalise over the global batch; PyTorch implements them on
    CUDA only."""
    if device.type != "cuda":
        raise ConfigError("sync_batchnorm needs CUDA: PyTorch's SyncBatchNorm has no CPU kernel")
    return {name: nn.SyncBatchNorm.convert_sync_batchnorm(net) for name, net in nets.items()}
