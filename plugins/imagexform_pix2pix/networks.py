"""The pix2pix networks, named and configured as in the reference's ``--netG``/``--netD``.

The generators and PatchGANs themselves live in the core (``imagexform.nn``), where CycleGAN
shares them; this module maps a :class:`Pix2PixConfig` onto them.
"""

from __future__ import annotations

import re

from torch import nn

from imagexform.nn import ResnetGenerator, UnetGenerator, build_patchgan, init_weights
from imagexform.nn.resnet import N_DOWNSAMPLING
from imagexform.nn.unet import MIN_UNET_DOWNS
from imagexform_pix2pix.config import Pix2PixConfig

_UNET = re.compile(r"unet_(\d+)")
_RESNET = re.compile(r"resnet_(\d+)blocks")


def _unet_downs(netG: str) -> int | None:
    match = _UNET.fullmatch(netG)
    if match is None:
        return None
    size = int(match.group(1))
    num_downs = size.bit_length() - 1
    if size != 2**num_downs or num_downs < MIN_UNET_DOWNS:
        raise ValueError(
            f"netG {netG!r}: a U-Net size must be a power of two of at least {2**MIN_UNET_DOWNS}"
        )
    return num_downs


def _resnet_blocks(netG: str) -> int | None:
    match = _RESNET.fullmatch(netG)
    return None if match is None else int(match.group(1))


def _unknown(netG: str) -> ValueError:
    return ValueError(f"unknown netG {netG!r}; expected unet_<size> or resnet_<n>blocks")


def build_generator(config: Pix2PixConfig) -> nn.Module:
    """The generator ``config.netG`` names, freshly initialised as the reference does.

    ``unet_N`` is a U-Net with log2(N) levels (N is the input size at which its bottleneck
    becomes 1×1); ``resnet_Kblocks`` is the ResNet generator with K residual blocks.
    """
    num_downs = _unet_downs(config.netG)
    if num_downs is not None:
        net: nn.Module = UnetGenerator(
            config.input_nc,
            config.output_nc,
            num_downs,
            ngf=config.ngf,
            norm=config.norm,
            dropout=config.dropout,
        )
    else:
        n_blocks = _resnet_blocks(config.netG)
        if n_blocks is None:
            raise _unknown(config.netG)
        net = ResnetGenerator(
            config.input_nc,
            config.output_nc,
            ngf=config.ngf,
            norm=config.norm,
            dropout=config.dropout,
            n_blocks=n_blocks,
        )
    return init_weights(net, config.init_type, config.init_gain)


def build_discriminator(config: Pix2PixConfig) -> nn.Module:
    """The conditional PatchGAN: it sees the input and the (real or generated) output stacked
    along channels, so it judges whether the output fits its input, not just realism."""
    net = build_patchgan(
        config.netD,
        config.input_nc + config.output_nc,
        ndf=config.ndf,
        n_layers=config.n_layers_D,
        norm=config.norm,
    )
    return init_weights(net, config.init_type, config.init_gain)


def generator_size_multiple(netG: str) -> int:
    """What input height and width must be multiples of for ``netG`` to map size to size.

    Every stride-2 level halves the size, so a U-Net needs 2**levels and the ResNet generator,
    with its two downsamplings, needs 4. The export records this so the inference side pads.
    """
    num_downs = _unet_downs(netG)
    if num_downs is not None:
        return 2**num_downs
    if _resnet_blocks(netG) is not None:
        return 2**N_DOWNSAMPLING
    raise _unknown(netG)
