"""The pix2pix networks, named and configured as in the reference's ``--netG``/``--netD``.

The generators and PatchGANs themselves live in the core (``imagexform.nn``), where CycleGAN
shares them; this module maps a :class:`Pix2PixConfig` onto them.
"""

from __future__ import annotations

from torch import nn

from imagexform.plugin_api import build_image_generator, build_patchgan, init_weights
from imagexform_pix2pix.config import Pix2PixConfig


def build_generator(config: Pix2PixConfig) -> nn.Module:
    """The generator ``config.netG`` names, freshly initialised as the reference does."""
    net = build_image_generator(
        config.netG, config.input_nc, config.output_nc, config.ngf, config.norm, config.dropout
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
