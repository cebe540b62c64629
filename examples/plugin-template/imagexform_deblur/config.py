"""The family's settings: a dataclass extending the core TrainConfig. Every field can be set
with --set and is saved with checkpoints and exported models."""

from __future__ import annotations

from dataclasses import dataclass

from imagexform.plugin_api import TrainConfig


@dataclass
class DeblurConfig(TrainConfig):
    image_size: int = 64
    batch_size: int = 4
    lr: float = 1e-3
    width: int = 16  # channels of the hidden layers
    depth: int = 3  # hidden 3×3 convolutions
