"""Image-to-image generators by their reference names (``unet_256``, ``resnet_9blocks``...).

pix2pix and CycleGAN name generators the same way, so the name parsing lives here once.
"""

from __future__ import annotations

import re

from torch import nn

from imagexform.nn.norms import NormName
from imagexform.nn.resnet import N_DOWNSAMPLING, ResnetGenerator
from imagexform.nn.unet import MIN_UNET_DOWNS, UnetGenerator

_UNET = re.compile(r"unet_(\d+)")
_RESNET = re.compile(r"resnet_(\d+)blocks")


def _unet_downs(name: str) -> int | None:
    match = _UNET.fullmatch(name)
    if match is None:
        return None
    size = int(match.group(1))
    num_downs = size.bit_length() - 1
    if size != 2**num_downs or num_downs < MIN_UNET_DOWNS:
        raise ValueError(
            f"netG {name!r}: a U-Net size must be a power of two of at least {2**MIN_UNET_DOWNS}"
        )
    return num_downs


def _resnet_blocks(name: str) -> int | None:
    match = _RESNET.fullmatch(name)
    return None if match is None else int(match.group(1))


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown netG {name!r}; expected unet_<size> or resnet_<n>blocks")


def build_image_generator(
    name: str, input_nc: int, output_nc: int, ngf: int, norm: NormName, dropout: bool
) -> nn.Module:
    """The generator ``name`` describes, uninitialised.

    ``unet_N`` is a U-Net with log2(N) levels (N is the input size at which its bottleneck
    becomes 1×1); ``resnet_Kblocks`` is the ResNet generator with K residual blocks.
    """
    num_downs = _unet_downs(name)
    if num_downs is not None:
        return UnetGenerator(input_nc, output_nc, num_downs, ngf=ngf, norm=norm, dropout=dropout)
    n_blocks = _resnet_blocks(name)
    if n_blocks is None:
        raise _unknown(name)
    return ResnetGenerator(
        input_nc, output_nc, ngf=ngf, norm=norm, dropout=dropout, n_blocks=n_blocks
    )


def image_generator_size_multiple(name: str) -> int:
    """What input height and width must be multiples of for generator ``name`` to map size to
    size. Every stride-2 level halves the size, so a U-Net needs 2**levels and the ResNet
    generator, with its two downsamplings, needs 4. Exports record this so the runtime pads."""
    num_downs = _unet_downs(name)
    if num_downs is not None:
        return 2**num_downs
    if _resnet_blocks(name) is not None:
        return 2**N_DOWNSAMPLING
    raise _unknown(name)
