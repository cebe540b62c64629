"""Exponential moving average of network weights (BasicSR's ``params_ema``).

The average usually exports better than the raw weights of a GAN generator, whose weights
oscillate with the adversarial game.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, nets: dict[str, nn.Module], decay: float) -> None:
        self.decay = decay
        self.nets = {
            name: copy.deepcopy(net).eval().requires_grad_(False) for name, net in nets.items()
        }

    @torch.no_grad()
    def update(self, nets: dict[str, nn.Module]) -> None:
        for name, average in self.nets.items():
            live = nets[name].state_dict()
            for key, value in average.state_dict().items():
                if value.dtype.is_floating_point:
                    value.lerp_(live[key], 1.0 - self.decay)
                else:  # integer buffers such as BatchNorm's num_batches_tracked
                    value.copy_(live[key])

    def state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: net.state_dict() for name, net in self.nets.items()}

    def load_state_dicts(self, states: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(states[name], strict=True)
