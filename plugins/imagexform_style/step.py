"""One style-transfer step (Johnson et al. 2016, as pytorch/examples trains it): the network
restyles a batch of photos; VGG16 features judge content against the photos and Gram
matrices judge style against the painting's, computed once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import (
    ConfigError,
    TrainContext,
    TrainStep,
    VGGFeatures,
    fit,
    read_image,
    to_rgb,
    to_uint8,
)
from imagexform_style.config import StyleConfig
from imagexform_style.losses import gram_matrix, total_variation


def load_style_image(config: StyleConfig) -> np.ndarray:
    """The painting as 8-bit RGB, its longer side ``style_size`` when set."""
    if not config.style_image:
        raise ConfigError("style training needs the painting: --set style_image=PATH")
    image = to_rgb(to_uint8(read_image(Path(config.style_image))))
    return fit(image, config.style_size, "fit") if config.style_size else image


def style_layers(config: StyleConfig) -> list[str]:
    return [layer.strip() for layer in config.style_layers.split(",") if layer.strip()]


class StyleStep(TrainStep):
    config: StyleConfig

    def __init__(self, config: StyleConfig, nets: dict[str, nn.Module], context: TrainContext):
        super().__init__(config, nets, context)
        self.G = nets["G"]
        self.layers = style_layers(config)
        if not self.layers:
            raise ConfigError("style_layers is empty; e.g. relu1_2,relu2_2,relu3_3,relu4_3")
        wanted = sorted({config.content_layer, *self.layers})
        # Built now: a missing painting or missing VGG weights stop before step 1.
        self.vgg = VGGFeatures("vgg16", wanted, config.vgg_weights).to(context.device)
        painting = torch.from_numpy(load_style_image(config)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            features = self.vgg(painting.to(context.device) / 255.0)
        self.grams = {layer: gram_matrix(features[layer]) for layer in self.layers}
        self.painting = painting
        self.crops = 0
        self.optimizer = self.adam("G", self.G)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        config, context = self.config, self.context
        photos = batch["content"]
        with context.autocast():
            styled = self.G(photos)
            ours = self.vgg(styled / 255.0)
            with torch.no_grad():
                target = self.vgg(photos / 255.0)[config.content_layer]
            content = F.mse_loss(ours[config.content_layer].float(), target.float())
            style = sum(
                F.mse_loss(gram_matrix(ours[layer]), self.grams[layer].expand(len(photos), -1, -1))
                for layer in self.layers
            )
            loss = config.content_weight * content + config.style_weight * style
            smooth = total_variation(styled.float())
            if config.tv_weight > 0:
                loss = loss + config.tv_weight * smooth
        context.optimize(loss, self.optimizer)
        return {
            "content": config.content_weight * content.detach(),
            "style": config.style_weight * style.detach(),
            "tv": smooth.detach(),
        }

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        return {}

    def fidelity_pair(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        """Restyled photos against crops of the painting at the photos' size (as ArtFID
        compares stylised images with their style): the painting is the only real image of
        the target domain."""
        photos = batch["content"]
        crops = [self._painting_crop(photos.shape[-2:]) for _ in range(len(photos))]
        return self.G(photos).clamp(0, 255), torch.cat(crops).to(photos.device)

    def _painting_crop(self, size: torch.Size) -> Tensor:
        """The next crop of the painting, stepping across it by the golden ratio so that a
        validation split's crops cover the painting evenly (deterministic for a run)."""
        height, width = int(size[0]), int(size[1])
        painting = self.painting
        if painting.shape[-2] < height or painting.shape[-1] < width:
            grow = max(height / painting.shape[-2], width / painting.shape[-1])
            rows = max(height, round(painting.shape[-2] * grow))
            columns = max(width, round(painting.shape[-1] * grow))
            painting = F.interpolate(painting, size=(rows, columns), mode="bicubic")
            painting = painting.clamp(0, 255)
        self.crops += 1
        spare_y, spare_x = painting.shape[-2] - height, painting.shape[-1] - width
        top = round((self.crops * 0.618034) % 1 * spare_y)
        left = round((self.crops * 0.381966) % 1 * spare_x)
        return painting[..., top : top + height, left : left + width]

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        return [batch["content"], self.G(batch["content"]).clamp(0, 255)]
