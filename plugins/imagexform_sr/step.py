"""One super-resolution step as BasicSR's SRGAN/ESRGAN models take it: the generator on
pixel (+ perceptual) (+ adversarial) loss, then, in the GAN stage, the discriminator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from imagexform.family import TrainStep
from imagexform.losses.adversarial import AdversarialLoss
from imagexform.losses.perceptual import PerceptualLoss, parse_layer_weights
from imagexform.losses.pixel import pixel_loss
from imagexform.metrics import sr_scores
from imagexform.train.context import TrainContext
from imagexform_sr.config import SRConfig


def to_uint8(image: Tensor) -> np.ndarray:
    """1×3×H×W in [0, 1] to H×W×3 uint8, rounded as images are saved before scoring."""
    array = image[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (array * 255.0).round().astype(np.uint8)


class SuperResolutionStep(TrainStep):
    def __init__(self, config: SRConfig, nets: dict[str, nn.Module], context: TrainContext):
        self.config = config
        self.context = context
        self.G = nets["G"]
        self.D = nets.get("D")
        self.pixel = pixel_loss(config.pixel_loss)
        self.perceptual = None
        if config.perceptual_weight > 0:  # built now: missing VGG weights stop before step 1
            layers = parse_layer_weights(config.perceptual_layers)
            self.perceptual = PerceptualLoss(layers, "vgg19", config.vgg_weights)
            self.perceptual.to(context.device)
        self.adversarial = AdversarialLoss(config.gan_mode)
        betas = (config.beta1, config.beta2)
        self._optimizers = {"G": context.adam(self.G.parameters(), config.lr, betas)}
        if self.D is not None:
            self._optimizers["D"] = context.adam(self.D.parameters(), config.lr_D, betas)

    def optimizers(self) -> dict[str, Optimizer]:
        return self._optimizers

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, float]:
        low, high = batch["LR"], batch["HR"]
        config, context = self.config, self.context
        metrics: dict[str, float] = {}
        with context.autocast():
            output = self.G(low)
            pixel = self.pixel(output, high)
            loss = config.pixel_weight * pixel
            metrics["pixel"] = pixel.item()
            if self.perceptual is not None:
                perceptual = self.perceptual(output, high)
                loss = loss + config.perceptual_weight * perceptual
                metrics["perceptual"] = perceptual.item()
            if self.D is not None:
                with context.frozen(self.D):
                    real_logits = self.D(high).detach()
                    adversarial = self.adversarial.generator(self.D(output), real_logits)
                loss = loss + config.gan_weight * adversarial
                metrics["G_gan"] = adversarial.item()
        context.optimize(loss, self._optimizers["G"])

        if self.D is not None:
            with context.autocast():
                loss_d = self.adversarial.discriminator(self.D(high), self.D(output.detach()))
            context.optimize(loss_d, self._optimizers["D"])
            metrics["D"] = loss_d.item()
        return metrics

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        output, target = to_uint8(self.G(batch["LR"])), to_uint8(batch["HR"])
        return sr_scores(output, target, crop_border=self.config.scale)

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        low, high = batch["LR"], batch["HR"]
        bicubic = F.interpolate(low, size=high.shape[-2:], mode="bicubic", align_corners=False)
        return [bicubic, self.G(low).clamp(0, 1), high]
