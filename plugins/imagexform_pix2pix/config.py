"""pix2pix settings, with the defaults of the reference implementation (junyanz)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagexform.plugin_api import GANConfig

GeneratorName = Literal[
    "unet_32", "unet_64", "unet_128", "unet_256", "unet_512", "resnet_6blocks", "resnet_9blocks"
]


@dataclass
class Pix2PixConfig(GANConfig):
    image_size: int = 256
    load_size: int = 0  # resize before the random crop; 0 means image_size * 286 / 256
    flip: bool = True
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    input_nc: int = 3
    output_nc: int = 3
    netG: GeneratorName = "unet_256"
    ngf: int = 64
    netD: Literal["basic", "n_layers", "pixel"] = "basic"
    n_layers_D: int = 3
    ndf: int = 64
    norm: Literal["batch", "instance", "none"] = "batch"
    dropout: bool = True
    init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    init_gain: float = 0.02
    gan_mode: Literal["vanilla", "lsgan", "hinge", "wgangp"] = "vanilla"
    lambda_l1: float = 100.0
    label_smoothing: float = 0.0  # one-sided: real targets become 1 - label_smoothing
    instance_noise: float = 0.0  # std of noise added to D inputs, annealed to 0 over training
