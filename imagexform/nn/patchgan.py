"""PatchGAN discriminators (Isola et al. 2017) with the reference's exact module layout.

The layout (``model.<i>`` / ``net.<i>`` Sequential indices, biases only where the reference
has them) is kept identical so that reference discriminator checkpoints load strictly, e.g. to
resume or fine-tune a pix2pix or CycleGAN run started with the reference code.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import Tensor, nn

from imagexform.nn.norms import NormName, norm_layer, uses_bias

PatchGANKind = Literal["basic", "n_layers", "pixel"]

PATCHGAN_KINDS: tuple[str, ...] = get_args(PatchGANKind)

_KERNEL = 4
_PADDING = 1


class NLayerDiscriminator(nn.Module):
    """Classifies overlapping patches as real or fake, giving one logit per patch.

    ``n_layers`` stride-2 convolutions set the receptive field (70×70 pixels for 3), trading
    texture-level against structure-level realism. Output logits are raw (no sigmoid), so the
    adversarial loss chooses the link function.
    """

    def __init__(
        self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: NormName = "batch"
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        # The first layer has no norm, so it keeps its bias whatever the norm is.
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, _KERNEL, stride=2, padding=_PADDING),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = ndf
        # Width doubles per layer up to 8 × ndf; the last of these keeps stride 1.
        for n in range(1, n_layers + 1):
            out_channels = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(
                    channels, out_channels, _KERNEL, stride=stride, padding=_PADDING, bias=bias
                ),
                make_norm(out_channels),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, 1, _KERNEL, stride=1, padding=_PADDING))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """A 1×1 PatchGAN: judges each pixel's colour alone, with no spatial context.

    It pushes colour statistics towards the target without constraining structure. Unlike
    :class:`NLayerDiscriminator`, the reference gives its final convolution a bias only when
    the norm asks for one; that is kept for checkpoint compatibility.
    """

    def __init__(self, input_nc: int, ndf: int = 64, norm: NormName = "batch") -> None:
        super().__init__()
        bias = uses_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, bias=bias),
            norm_layer(norm)(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, bias=bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def build_patchgan(
    kind: PatchGANKind,
    input_nc: int,
    ndf: int = 64,
    n_layers: int = 3,
    norm: NormName = "batch",
) -> nn.Module:
    """Build a discriminator by the reference's ``--netD`` name, so configs can use its terms.

    ``basic`` is the 70×70 PatchGAN (three layers) whatever ``n_layers`` says; ``n_layers``
    uses ``n_layers``; ``pixel`` is the 1×1 PixelGAN.
    """
    if kind == "basic":
        return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm=norm)
    if kind == "n_layers":
        return NLayerDiscriminator(input_nc, ndf, n_layers=n_layers, norm=norm)
    if kind == "pixel":
        return PixelDiscriminator(input_nc, ndf, norm=norm)
    raise ValueError(f"unknown discriminator {kind!r}; expected one of {', '.join(PATCHGAN_KINDS)}")
