"""One optimisation step: L1 between the sharpened input and the sharp target. The core
trainer does everything else (device, precision, schedule, checkpoints)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from imagexform.family import TrainStep
from imagexform.train.context import TrainContext
from imagexform_deblur.config import DeblurConfig


class DeblurStep(TrainStep):
    def __init__(self, config: DeblurConfig, nets: dict[str, nn.Module], context: TrainContext):
        self.G, self.context = nets["G"], context
        self._optimizers = {"G": context.adam(self.G.parameters(), config.lr, (0.9, 0.999))}

    def optimizers(self) -> dict[str, Optimizer]:
        return self._optimizers

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, float]:
        with self.context.autocast():
            loss = F.l1_loss(self.G(batch["A"]), batch["B"])
        self.context.optimize(loss, self._optimizers["G"])
        return {"l1": loss.item()}

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return {"l1": F.l1_loss(self.G(batch["A"]), batch["B"]).item()}

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        return [batch["A"], self.G(batch["A"]).clamp(-1, 1), batch["B"]]
