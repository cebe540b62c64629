"""Weight initialisation as the reference (junyanz) applies it before training.

Training from scratch with the same initial distribution is part of reproducing the
reference's results; PyTorch's default initialisation differs.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

InitType = Literal["normal", "xavier", "kaiming", "orthogonal"]

INIT_TYPES: tuple[str, ...] = get_args(InitType)


def init_weights(net: nn.Module, init_type: InitType = "normal", gain: float = 0.02) -> nn.Module:
    """Re-initialise every convolution, linear and batch-norm layer of ``net`` in place.

    Convolution and linear weights follow ``init_type`` scaled by ``gain`` (kaiming ignores
    it, as in the reference) and their biases become zero. Batch-norm scales are drawn around 1
    so that the layers start close to identity. Returns ``net`` for chaining.
    """
    if init_type not in INIT_TYPES:
        raise ValueError(
            f"unknown init_type {init_type!r}; expected one of {', '.join(INIT_TYPES)}"
        )

    def init_layer(module: nn.Module) -> None:
        if isinstance(module, nn.modules.conv._ConvNd | nn.Linear):
            _init_weight(module.weight, init_type, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)

    net.apply(init_layer)
    return net


def _init_weight(weight: nn.Parameter, init_type: str, gain: float) -> None:
    if init_type == "normal":
        nn.init.normal_(weight, 0.0, gain)
    elif init_type == "xavier":
        nn.init.xavier_normal_(weight, gain=gain)
    elif init_type == "kaiming":
        nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
    else:
        nn.init.orthogonal_(weight, gain=gain)
