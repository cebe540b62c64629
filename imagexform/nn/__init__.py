"""Network building blocks shared by families, so that reference checkpoints of one layout load
into every family that uses it (pix2pix and CycleGAN share the junyanz generators and PatchGAN).

These modules import torch; only the training side imports this package.
"""

from imagexform.nn.foreign import load_published, patch_instance_norm_state
from imagexform.nn.init import InitType, init_weights
from imagexform.nn.norms import NormName, norm_layer, uses_bias
from imagexform.nn.patchgan import (
    NLayerDiscriminator,
    PatchGANKind,
    PixelDiscriminator,
    build_patchgan,
)
from imagexform.nn.resnet import PaddingType, ResnetBlock, ResnetGenerator
from imagexform.nn.unet import UnetGenerator, UnetSkipConnectionBlock

__all__ = [
    "InitType",
    "NLayerDiscriminator",
    "NormName",
    "PaddingType",
    "PatchGANKind",
    "PixelDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "build_patchgan",
    "init_weights",
    "load_published",
    "norm_layer",
    "patch_instance_norm_state",
    "uses_bias",
]
