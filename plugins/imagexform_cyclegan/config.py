"""CycleGAN settings, with the defaults of the reference implementation (junyanz).

The reference trains ``n_epochs`` at constant LR, then decays it linearly towards zero over
``n_epochs_decay`` more, changing it once per epoch: ``lr_schedule = "linear_epochs"`` with
``lr_decay_start`` = n_epochs / (n_epochs + n_epochs_decay), over ``steps`` in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagexform.plugin_api import GANConfig

GeneratorName = Literal[
    "resnet_9blocks", "resnet_6blocks", "unet_32", "unet_64", "unet_128", "unet_256", "unet_512"
]

# What a generator file carries (read off its layout by an importer); the rest is training.
GENERATOR_SETTINGS = ("netG", "ngf", "norm", "dropout", "input_nc", "output_nc")


@dataclass
class CycleGANConfig(GANConfig):
    image_size: int = 256
    lr_schedule: Literal["constant", "linear", "linear_epochs", "cosine", "step"] = "linear_epochs"
    load_size: int = 0  # resize before the random crop; 0 means image_size * 286 / 256
    flip: bool = True
    serial_batches: bool = False  # pair trainB images by index instead of at random
    input_nc: int = 3  # channels of domain A
    output_nc: int = 3  # channels of domain B
    netG: GeneratorName = "resnet_9blocks"
    ngf: int = 64
    netD: Literal["basic", "n_layers", "pixel"] = "basic"
    n_layers_D: int = 3
    ndf: int = 64
    norm: Literal["batch", "instance", "none"] = "instance"
    dropout: bool = False
    init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    init_gain: float = 0.02
    gan_mode: Literal["vanilla", "lsgan", "hinge", "wgangp"] = "lsgan"
    lambda_A: float = 10.0  # cycle loss A -> B -> A
    lambda_B: float = 10.0  # cycle loss B -> A -> B
    lambda_identity: float = 0.5  # identity loss, as a fraction of lambda_A / lambda_B
    pool_size: int = 50  # generated images kept for the discriminators; 0 disables
