"""One CycleGAN optimisation step as the reference takes it: both generators on adversarial,
cycle-consistency and identity losses, then both discriminators on real images and on fakes
drawn from the image pools (Zhu et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import AdversarialLoss, TrainContext, TrainStep, gradient_penalty
from imagexform_cyclegan.config import CycleGANConfig
from imagexform_cyclegan.image_pool import ImagePool


class CycleGANStep(TrainStep):
    config: CycleGANConfig

    def __init__(
        self, config: CycleGANConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> None:
        super().__init__(config, nets, context)
        self.G_A, self.G_B, self.D_A, self.D_B = (nets[n] for n in ("G_A", "G_B", "D_A", "D_B"))
        self.adversarial = AdversarialLoss(config.gan_mode)
        self.pools = {"A": ImagePool(config.pool_size), "B": ImagePool(config.pool_size)}
        self.optimizer_G = self.adam("G", self.G_A, self.G_B)
        self.optimizer_D = self.adam("D", self.D_A, self.D_B)

    def _generators(self, real_a: Tensor, real_b: Tensor) -> dict[str, Tensor]:
        """Both generators' losses, their sum under "G"; the fakes under "fake_A"/"fake_B"."""
        config = self.config
        with self.context.frozen(self.D_A, self.D_B), self.context.autocast():
            fake_b, fake_a = self.G_A(real_a), self.G_B(real_b)
            losses = {
                "fake_A": fake_a,
                "fake_B": fake_b,
                "cycle_A": F.l1_loss(self.G_B(fake_b), real_a) * config.lambda_A,
                "cycle_B": F.l1_loss(self.G_A(fake_a), real_b) * config.lambda_B,
                "G_A": self.adversarial.generator(self.D_A(fake_b)),
                "G_B": self.adversarial.generator(self.D_B(fake_a)),
                "idt_A": torch.zeros((), device=real_a.device),
                "idt_B": torch.zeros((), device=real_a.device),
            }
            if config.lambda_identity > 0:
                # G_A should leave an image that is already in B alone, and G_B one in A.
                weight = config.lambda_identity
                losses["idt_A"] = F.l1_loss(self.G_A(real_b), real_b) * config.lambda_B * weight
                losses["idt_B"] = F.l1_loss(self.G_B(real_a), real_a) * config.lambda_A * weight
        names = ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")
        losses["G"] = sum((losses[name] for name in names), torch.zeros((), device=real_a.device))
        return losses

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        config, context = self.config, self.context
        real_a, real_b = batch["A"], batch["B"]
        losses = self._generators(real_a, real_b)
        context.optimize(losses.pop("G"), self.optimizer_G)

        pooled_b = self.pools["B"].query(losses.pop("fake_B"))
        pooled_a = self.pools["A"].query(losses.pop("fake_A"))
        with context.autocast():
            losses["D_A"] = self.adversarial.discriminator(self.D_A(real_b), self.D_A(pooled_b))
            losses["D_B"] = self.adversarial.discriminator(self.D_B(real_a), self.D_B(pooled_a))
        loss_d = losses["D_A"] + losses["D_B"]
        if config.gan_mode == "wgangp":
            losses["gp"] = gradient_penalty(self.D_A, real_b, pooled_b) + gradient_penalty(
                self.D_B, real_a, pooled_a
            )
            loss_d = loss_d + config.lambda_gp * losses["gp"]
        context.optimize(loss_d, self.optimizer_D)
        return {key: value.detach() for key, value in losses.items()}

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Cycle reconstruction error both ways: without paired targets it is what a held-out
        split can measure."""
        real_a, real_b = batch["A"], batch["B"]
        return {
            "cycle_A": F.l1_loss(self.G_B(self.G_A(real_a)), real_a),
            "cycle_B": F.l1_loss(self.G_A(self.G_B(real_b)), real_b),
        }

    def fidelity_pair(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        """A→B, the direction exported by default, against real B images."""
        return self.G_A(batch["A"]), batch["B"]

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = self.G_A(real_a)
        rows = [real_a, fake_b, self.G_B(fake_b)]
        if real_a.shape[1] == real_b.shape[1]:
            fake_a = self.G_B(real_b)
            rows += [real_b, fake_a, self.G_A(fake_a)]
        return rows
