"""One super-resolution step as BasicSR's SRGAN/ESRGAN models take it: the generator on
pixel (+ perceptual) (+ adversarial) loss, then, in the GAN stage, the discriminator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import (
    AdversarialLoss,
    PerceptualLoss,
    TrainContext,
    TrainStep,
    parse_layer_weights,
    pixel_loss,
    sr_scores,
)
from imagexform_sr.config import SRConfig


def to_uint8(image: Tensor) -> np.ndarray:
    """1×3×H×W in [0, 1] to H×W×3 uint8, rounded as images are saved before scoring."""
    array = image[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (array * 255.0).round().astype(np.uint8)


class SuperResolutionStep(TrainStep):
    config: SRConfig

    def __init__(self, config: SRConfig, nets: dict[str, nn.Module], context: TrainContext):
        super().__init__(config, nets, context)
        self.G = nets["G"]
        self.D = nets.get("D")
        self.pixel = pixel_loss(config.pixel_loss)
        self.perceptual = None
        if config.perceptual_weight > 0:  # built now: missing VGG weights stop before step 1
            layers = parse_layer_weights(config.perceptual_layers)
            self.perceptual = PerceptualLoss(layers, "vgg19", config.vgg_weights)
            self.perceptual.to(context.device)
        self.adversarial = AdversarialLoss(config.gan_mode)
        self.optimizer_G = self.adam("G", self.G)
        if self.D is not None:
            self.optimizer_D = self.adam("D", self.D, lr=config.lr_D)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        low, high = batch["LR"], batch["HR"]
        config, context = self.config, self.context
        metrics: dict[str, Tensor] = {}
        with context.autocast():
            output = self.G(low)
            pixel = self.pixel(output, high)
            loss = config.pixel_weight * pixel
            metrics["pixel"] = pixel.detach()
            if self.perceptual is not None:
                perceptual = self.perceptual(output, high)
                loss = loss + config.perceptual_weight * perceptual
                metrics["perceptual"] = perceptual.detach()
            if self.D is not None:
                with context.frozen(self.D):
                    real_logits = self.D(high).detach()
                    adversarial = self.adversarial.generator(self.D(output), real_logits)
                loss = loss + config.gan_weight * adversarial
                metrics["G_gan"] = adversarial.detach()
        context.optimize(loss, self.optimizer_G)

        if self.D is not None:
            with context.autocast():
                loss_d = self.adversarial.discriminator(self.D(high), self.D(output.detach()))
            context.optimize(loss_d, self.optimizer_D)
            metrics["D"] = loss_d.detach()
        return metrics

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        output, target = to_uint8(self.G(batch["LR"])), to_uint8(batch["HR"])
        return sr_scores(output, target, crop_border=self.config.scale)

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        low, high = batch["LR"], batch["HR"]
        bicubic = F.interpolate(low, size=high.shape[-2:], mode="bicubic", align_corners=False)
        return [bicubic, self.G(low).clamp(0, 1), high]
