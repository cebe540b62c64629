"""The U-Net generator of pix2pix, built from nested skip-connection blocks as the reference is.

The recursion is deliberate: it yields the reference's nested state-dict keys
(``model.model.1.model.3.model.3...``), so reference checkpoints load without renaming.
"""

from __future__ import annotations

from torch import Tensor, cat, nn

from imagexform.nn.norms import NormName, norm_layer, uses_bias

MIN_UNET_DOWNS = 5  # the fixed ngf..8·ngf ramp takes five levels


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: downsample, run the inner levels, upsample, concatenate the input.

    The concatenation is the skip connection that carries low-level detail (edges, layout)
    straight to the output; only the outermost level omits it and ends in tanh instead.
    Sequential indices follow the reference: ``[relu, down, norm, inner, relu, up, norm,
    (dropout)]``, with the leading activation and norms dropped at the ends of the U.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: NormName = "batch",
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        # Inner levels receive their own input concatenated to the inner output: twice as wide.
        up_in = inner_nc if innermost else inner_nc * 2

        layers: list[nn.Module]
        if outermost:
            if submodule is None:
                raise ValueError("the outermost block needs a submodule")
            upconv = nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(inplace=True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(
                up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias
            )
            layers = [
                nn.LeakyReLU(0.2, inplace=True),
                downconv,
                nn.ReLU(inplace=True),
                upconv,
                make_norm(outer_nc),
            ]
        else:
            if submodule is None:
                raise ValueError("a middle block needs a submodule")
            upconv = nn.ConvTranspose2d(
                up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias
            )
            layers = [
                nn.LeakyReLU(0.2, inplace=True),
                downconv,
                make_norm(inner_nc),
                submodule,
                nn.ReLU(inplace=True),
                upconv,
                make_norm(outer_nc),
            ]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return cat([x, self.model(x)], dim=1)


class UnetGenerator(nn.Module):
    """Encoder-decoder with skip connections; output in [-1, 1] through tanh.

    ``num_downs`` stride-2 levels mean input height and width must be multiples of
    ``2 ** num_downs`` (256 for the pix2pix default of 8), and the bottleneck is 1×1 at that
    size. Dropout, when on, sits in the ``8·ngf`` middle levels only, as in the reference where
    it stands in for the noise input of a conditional GAN.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        num_downs: int,
        ngf: int = 64,
        norm: NormName = "batch",
        dropout: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < MIN_UNET_DOWNS:
            raise ValueError(f"num_downs must be at least {MIN_UNET_DOWNS}, got {num_downs}")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - MIN_UNET_DOWNS):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, dropout=dropout
            )
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
