"""One optimisation step: L1 between the sharpened input and the sharp target. The core
trainer does everything else (device, precision, schedule, checkpoints, logging)."""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import TrainContext, TrainStep
from imagexform_deblur.config import DeblurConfig

Batch = Mapping[str, Tensor]


class DeblurStep(TrainStep):
    def __init__(self, config: DeblurConfig, nets: dict[str, nn.Module], context: TrainContext):
        super().__init__(config, nets, context)
        self.G = nets["G"]
        self.optimizer = self.adam("G", self.G)  # lr from the config, registered by name

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        with self.context.autocast():
            loss = F.l1_loss(self.G(batch["A"]), batch["B"])
        self.context.optimize(loss, self.optimizer)
        return {"l1": loss.detach()}  # tensors: the trainer reads them only when it logs

    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        return {"l1": F.l1_loss(self.G(batch["A"]), batch["B"])}

    def sample(self, batch: Batch) -> list[Tensor]:
        return [batch["A"], self.G(batch["A"]).clamp(-1, 1), batch["B"]]
