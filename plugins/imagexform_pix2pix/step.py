"""One pix2pix optimisation step: the discriminator on real and fake pairs, then the
generator on adversarial + λ·L1 (Isola et al. 2017, as the reference trains it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from imagexform.family import TrainStep
from imagexform.losses.adversarial import AdversarialLoss, add_instance_noise, gradient_penalty
from imagexform.train.context import TrainContext
from imagexform_pix2pix.config import Pix2PixConfig


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB for images in [-1, 1], averaged over the batch."""
    mse = ((output.clamp(-1, 1) - target) / 2).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean()


class Pix2PixStep(TrainStep):
    def __init__(
        self, config: Pix2PixConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> None:
        self.config = config
        self.G, self.D = nets["G"], nets["D"]
        self.context = context
        self.adversarial = AdversarialLoss(config.gan_mode, config.label_smoothing)
        betas = (config.beta1, config.beta2)
        self._optimizers = {
            "G": context.adam(self.G.parameters(), config.lr, betas),
            "D": context.adam(self.D.parameters(), config.lr, betas),
        }

    def optimizers(self) -> dict[str, Optimizer]:
        return self._optimizers

    def _discriminate(self, condition: Tensor, image: Tensor) -> Tensor:
        noise = self.config.instance_noise * (1.0 - self.context.progress)
        return self.D(add_instance_noise(torch.cat([condition, image], dim=1), noise))

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, float]:
        real_a, real_b = batch["A"], batch["B"]
        context = self.context
        with context.autocast():
            fake_b = self.G(real_a)
            loss_d = self.adversarial.discriminator(
                self._discriminate(real_a, real_b), self._discriminate(real_a, fake_b.detach())
            )
        penalty = torch.zeros((), device=real_a.device)
        if self.config.gan_mode == "wgangp":
            penalty = gradient_penalty(
                self.D,
                torch.cat([real_a, real_b], dim=1),
                torch.cat([real_a, fake_b], dim=1),
            )
        context.optimize(loss_d + self.config.lambda_gp * penalty, self._optimizers["D"])

        with context.frozen(self.D), context.autocast():
            loss_g_gan = self.adversarial.generator(self._discriminate(real_a, fake_b))
            loss_l1 = F.l1_loss(fake_b, real_b)
        context.optimize(loss_g_gan + self.config.lambda_l1 * loss_l1, self._optimizers["G"])
        metrics = {"D": loss_d.item(), "G_gan": loss_g_gan.item(), "G_l1": loss_l1.item()}
        if self.config.gan_mode == "wgangp":
            metrics["gp"] = penalty.item()
        return metrics

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        fake_b = self.G(batch["A"])
        return {"l1": F.l1_loss(fake_b, batch["B"]).item(), "psnr": psnr(fake_b, batch["B"]).item()}

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        return [batch["A"], self.G(batch["A"]), batch["B"]]
