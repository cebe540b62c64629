"""One CycleGAN optimisation step as the reference takes it: both generators on adversarial,
cycle-consistency and identity losses, then both discriminators on real images and on fakes
drawn from the image pools (Zhu et al. 2017)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from imagexform.family import TrainStep
from imagexform.losses.adversarial import AdversarialLoss, gradient_penalty
from imagexform.train.context import TrainContext
from imagexform.train.image_pool import ImagePool
from imagexform_cyclegan.config import CycleGANConfig


class CycleGANStep(TrainStep):
    def __init__(
        self, config: CycleGANConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> None:
        self.config = config
        self.context = context
        self.G_A, self.G_B, self.D_A, self.D_B = (nets[n] for n in ("G_A", "G_B", "D_A", "D_B"))
        self.adversarial = AdversarialLoss(config.gan_mode)
        self.pools = {"A": ImagePool(config.pool_size), "B": ImagePool(config.pool_size)}
        betas = (config.beta1, config.beta2)
        generators = itertools.chain(self.G_A.parameters(), self.G_B.parameters())
        discriminators = itertools.chain(self.D_A.parameters(), self.D_B.parameters())
        self._optimizers = {
            "G": context.adam(generators, config.lr, betas),
            "D": context.adam(discriminators, config.lr, betas),
        }

    def optimizers(self) -> dict[str, Optimizer]:
        return self._optimizers

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, float]:
        config, context = self.config, self.context
        real_a, real_b = batch["A"], batch["B"]
        with context.frozen(self.D_A, self.D_B), context.autocast():
            fake_b = self.G_A(real_a)
            fake_a = self.G_B(real_b)
            cycle_a = F.l1_loss(self.G_B(fake_b), real_a) * config.lambda_A
            cycle_b = F.l1_loss(self.G_A(fake_a), real_b) * config.lambda_B
            gan_a = self.adversarial.generator(self.D_A(fake_b))
            gan_b = self.adversarial.generator(self.D_B(fake_a))
            loss_g = gan_a + gan_b + cycle_a + cycle_b
            identity_a = identity_b = torch.zeros((), device=real_a.device)
            if config.lambda_identity > 0:
                # G_A should leave an image that is already in B alone, and G_B one in A.
                weight = config.lambda_identity
                identity_a = F.l1_loss(self.G_A(real_b), real_b) * config.lambda_B * weight
                identity_b = F.l1_loss(self.G_B(real_a), real_a) * config.lambda_A * weight
                loss_g = loss_g + identity_a + identity_b
        context.optimize(loss_g, self._optimizers["G"])

        pooled_b = self.pools["B"].query(fake_b)
        pooled_a = self.pools["A"].query(fake_a)
        with context.autocast():
            loss_d_a = self.adversarial.discriminator(self.D_A(real_b), self.D_A(pooled_b))
            loss_d_b = self.adversarial.discriminator(self.D_B(real_a), self.D_B(pooled_a))
        loss_d = loss_d_a + loss_d_b
        metrics: dict[str, float] = {}
        if config.gan_mode == "wgangp":
            penalty = gradient_penalty(self.D_A, real_b, pooled_b) + gradient_penalty(
                self.D_B, real_a, pooled_a
            )
            loss_d = loss_d + config.lambda_gp * penalty
            metrics["gp"] = penalty.item()
        context.optimize(loss_d, self._optimizers["D"])
        metrics.update(
            D_A=loss_d_a.item(),
            D_B=loss_d_b.item(),
            G_A=gan_a.item(),
            G_B=gan_b.item(),
            cycle_A=cycle_a.item(),
            cycle_B=cycle_b.item(),
            idt_A=identity_a.item(),
            idt_B=identity_b.item(),
        )
        return metrics

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """Cycle reconstruction error both ways: without paired targets it is what a held-out
        split can measure."""
        real_a, real_b = batch["A"], batch["B"]
        return {
            "cycle_A": F.l1_loss(self.G_B(self.G_A(real_a)), real_a).item(),
            "cycle_B": F.l1_loss(self.G_A(self.G_B(real_b)), real_b).item(),
        }

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = self.G_A(real_a)
        rows = [real_a, fake_b, self.G_B(fake_b)]
        if real_a.shape[1] == real_b.shape[1]:
            fake_a = self.G_B(real_b)
            rows += [real_b, fake_a, self.G_A(fake_a)]
        return rows
