"""The ResNet generator of Johnson et al. as used by CycleGAN (and optionally pix2pix).

Its layout is one flat ``model`` Sequential with padding and activation layers in place, so
the reference's ``model.<i>`` indices (first conv at 1, residual blocks from 10) come out the
same and reference checkpoints load strictly.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import Tensor, nn

from imagexform.nn.norms import NormName, norm_layer, uses_bias

PaddingType = Literal["reflect", "replicate", "zero"]

PADDING_TYPES: tuple[str, ...] = get_args(PaddingType)

N_DOWNSAMPLING = 2  # fixed by the reference; it makes the size multiple 4


def _padding(padding_type: PaddingType, size: int) -> tuple[list[nn.Module], int]:
    """Explicit pad layer (or none) and the conv's own padding, as the reference splits them."""
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(size)], 0
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(size)], 0
    if padding_type == "zero":
        return [], size
    raise ValueError(f"unknown padding_type {padding_type!r}; expected one of {PADDING_TYPES}")


class ResnetBlock(nn.Module):
    """Two 3×3 convolutions added back to the input: the generator learns a residual.

    Reflection padding avoids the dark borders zero padding leaves in image translation.
    Dropout, when on, shifts the second convolution's index (``conv_block.6`` instead of
    ``.5``), which is also how such checkpoints are told apart.
    """

    def __init__(
        self,
        dim: int,
        padding_type: PaddingType = "reflect",
        norm: NormName = "batch",
        dropout: bool = False,
    ) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        layers: list[nn.Module] = []
        for second in (False, True):
            pad_layers, conv_padding = _padding(padding_type, 1)
            layers += pad_layers
            layers += [
                nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding, bias=bias),
                make_norm(dim),
            ]
            if not second:
                layers.append(nn.ReLU(inplace=True))
                if dropout:
                    layers.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Downsample twice, transform with ``n_blocks`` residual blocks, upsample twice; tanh out.

    Input height and width must be multiples of 4 for the output to match the input size.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm: NormName = "batch",
        dropout: bool = False,
        n_blocks: int = 6,
        padding_type: PaddingType = "reflect",
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must not be negative, got {n_blocks}")
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=bias),
            make_norm(ngf),
            nn.ReLU(inplace=True),
        ]
        for i in range(N_DOWNSAMPLING):
            channels = ngf * 2**i
            layers += [
                nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                make_norm(channels * 2),
                nn.ReLU(inplace=True),
            ]
        width = ngf * 2**N_DOWNSAMPLING
        layers += [
            ResnetBlock(width, padding_type=padding_type, norm=norm, dropout=dropout)
            for _ in range(n_blocks)
        ]
        for i in range(N_DOWNSAMPLING):
            channels = ngf * 2 ** (N_DOWNSAMPLING - i)
            layers += [
                nn.ConvTranspose2d(
                    channels,
                    channels // 2,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=bias,
                ),
                make_norm(channels // 2),
                nn.ReLU(inplace=True),
            ]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
