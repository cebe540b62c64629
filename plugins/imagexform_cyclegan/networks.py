"""CycleGAN's networks: two generators and two PatchGANs from the core, as the reference's
``--netG``/``--netD`` name them."""

from __future__ import annotations

from torch import nn

from imagexform.plugin_api import build_image_generator, build_patchgan, init_weights
from imagexform_cyclegan.config import CycleGANConfig


def build_networks(config: CycleGANConfig) -> dict[str, nn.Module]:
    """``G_A`` maps A to B and ``D_A`` judges its output against real B; ``G_B`` and ``D_B``
    the other way round (the reference's naming)."""
    a, b = config.input_nc, config.output_nc
    nets = {
        "G_A": build_image_generator(config.netG, a, b, config.ngf, config.norm, config.dropout),
        "G_B": build_image_generator(config.netG, b, a, config.ngf, config.norm, config.dropout),
        "D_A": build_patchgan(config.netD, b, config.ndf, config.n_layers_D, config.norm),
        "D_B": build_patchgan(config.netD, a, config.ndf, config.n_layers_D, config.norm),
    }
    return {
        name: init_weights(net, config.init_type, config.init_gain) for name, net in nets.items()
    }
