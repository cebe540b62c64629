"""Super-resolution settings. Defaults are the PSNR-oriented stage of ESRGAN as BasicSR trains
it; the shipped recipes in ``recipes/`` set the GAN stage and the small shipped model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagexform.plugin_api import GANConfig, path_setting


@dataclass
class SRConfig(GANConfig):
    image_size: int = 128  # HR crop (BasicSR's gt_size); the LR crop is image_size / scale
    batch_size: int = 16
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.99
    lr_schedule: Literal["constant", "linear", "cosine", "step"] = "cosine"
    lr_decay_start: float = 0.0
    ema_decay: float = 0.999  # BasicSR's params_ema: on by default, exported by default
    # spandrel: a published architecture imported through spandrel (imagexform_sr.spandrel);
    # such models are exported, never trained here
    arch: Literal["srresnet", "rrdbnet", "spandrel"] = "rrdbnet"
    spandrel_arch: str = ""  # spandrel's architecture id (SwinIR, SPAN, Compact...)
    spandrel_multiple: int = 1  # spandrel models: input height/width multiple the runtime pads to
    scale: int = 4
    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32  # RRDBNet only
    degradation: Literal["bicubic", "realesrgan"] = "bicubic"
    pixel_loss: Literal["l1", "mse", "charbonnier"] = "l1"
    pixel_weight: float = 1.0
    # "layer:weight" pairs on VGG19 features before activation, as ESRGAN uses them
    perceptual_layers: str = "conv5_4:1.0"
    perceptual_weight: float = 0.0
    vgg_weights: str = path_setting()  # a vgg19 .pth file; empty: torchvision's cache
    gan_weight: float = 0.0  # 0 trains the PSNR-oriented stage without a discriminator
    gan_mode: Literal["vanilla", "lsgan", "hinge", "ragan"] = "ragan"
    netD: Literal["vgg", "unet"] = "vgg"
    num_feat_D: int = 64
    lr_D: float = 1e-4
