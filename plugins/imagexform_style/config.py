"""Style-transfer settings, with the defaults of pytorch/examples' fast_neural_style."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagexform.plugin_api import TrainConfig, path_setting


@dataclass
class StyleConfig(TrainConfig):
    steps: int = 40000  # the reference: 2 epochs of COCO (~83k photos) at batch 4
    batch_size: int = 4
    image_size: int = 256  # content photos: shorter side resized to this, centre-cropped
    lr: float = 1e-3
    lr_schedule: Literal["constant", "linear", "linear_epochs", "cosine", "step"] = "constant"
    style_image: str = path_setting()  # the painting to learn; required for training
    style_size: int = 0  # longer side of the style image for its Gram targets; 0 keeps it
    width: int = 32  # channels of the first layer (32 in the published models); 16 is ~4x faster
    content_weight: float = 1e5
    style_weight: float = 1e10
    tv_weight: float = 0.0  # total variation: smooths high-frequency noise
    content_layer: str = "relu2_2"
    style_layers: str = "relu1_2,relu2_2,relu3_3,relu4_3"
    vgg_weights: str = path_setting()  # a vgg16 .pth file; empty: torchvision's cache
