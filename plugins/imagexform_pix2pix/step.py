"""One pix2pix optimisation step: the discriminator on real and fake pairs, then the
generator on adversarial + λ·L1 (Isola et al. 2017, as the reference trains it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import (
    AdversarialLoss,
    TrainContext,
    TrainStep,
    add_instance_noise,
    gradient_penalty,
    psnr_db,
)
from imagexform_pix2pix.config import Pix2PixConfig


class Pix2PixStep(TrainStep):
    config: Pix2PixConfig

    def __init__(
        self, config: Pix2PixConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> None:
        super().__init__(config, nets, context)
        self.G, self.D = nets["G"], nets["D"]
        self.adversarial = AdversarialLoss(config.gan_mode, config.label_smoothing)
        self.optimizer_G = self.adam("G", self.G)
        self.optimizer_D = self.adam("D", self.D)

    def _discriminate(self, condition: Tensor, image: Tensor) -> Tensor:
        noise = self.config.instance_noise * (1.0 - self.context.progress)
        return self.D(add_instance_noise(torch.cat([condition, image], dim=1), noise))

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        context = self.context
        with context.autocast():
            fake_b = self.G(real_a)
            loss_d = self.adversarial.discriminator(
                self._discriminate(real_a, real_b), self._discriminate(real_a, fake_b.detach())
            )
        metrics = {"D": loss_d}
        if self.config.gan_mode == "wgangp":
            metrics["gp"] = gradient_penalty(
                self.D,
                torch.cat([real_a, real_b], dim=1),
                torch.cat([real_a, fake_b], dim=1),
            )
            loss_d = loss_d + self.config.lambda_gp * metrics["gp"]
        context.optimize(loss_d, self.optimizer_D)

        with context.frozen(self.D), context.autocast():
            metrics["G_gan"] = self.adversarial.generator(self._discriminate(real_a, fake_b))
            metrics["G_l1"] = F.l1_loss(fake_b, real_b)
        context.optimize(
            metrics["G_gan"] + self.config.lambda_l1 * metrics["G_l1"], self.optimizer_G
        )
        return {key: value.detach() for key, value in metrics.items()}

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        fake_b = self.G(batch["A"])
        return {
            "l1": F.l1_loss(fake_b, batch["B"]),
            "psnr": psnr_db(fake_b, batch["B"], value_range=(-1.0, 1.0)),
        }

    def fidelity_pair(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        return self.G(batch["A"]), batch["B"]

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        return [batch["A"], self.G(batch["A"]), batch["B"]]
