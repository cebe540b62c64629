"""Normalisation layers with the reference (junyanz pix2pix/CycleGAN) semantics.

Which layer a name means, and whether the convolution before it has a bias, decides the
state-dict layout; both must match the reference exactly or its checkpoints will not load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, get_args

from torch import nn

NormName = Literal["batch", "instance", "none"]

NORM_NAMES: tuple[str, ...] = get_args(NormName)


def _check(name: str) -> None:
    if name not in NORM_NAMES:
        raise ValueError(f"unknown norm {name!r}; expected one of {', '.join(NORM_NAMES)}")


def norm_layer(name: NormName) -> Callable[[int], nn.Module]:
    """A factory taking the channel count, so network code stays agnostic of the norm.

    Instance norm is affine-free without running statistics, as in the reference: it then
    contributes no state-dict entries, and behaves the same in train and eval mode.
    """
    _check(name)
    if name == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if name == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    return _identity


def _identity(_channels: int) -> nn.Module:
    return nn.Identity()


def uses_bias(name: NormName) -> bool:
    """Whether a convolution followed by this norm carries a bias.

    Batch norm's own shift makes a bias redundant. The reference gives one only for instance
    norm: with ``none`` its test is false too, so those convolutions have no bias either, and
    following it is what keeps ``norm="none"`` checkpoints loadable.
    """
    _check(name)
    return name == "instance"
