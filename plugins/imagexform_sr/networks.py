"""The super-resolution networks, in the exact layouts of BasicSR and Real-ESRGAN.

Parameter names, their order and their shapes follow the reference classes one for one, so the
published ``.pth`` files (ESRGAN, Real-ESRGAN, BasicSR) load with ``strict=True`` and our own
checkpoints stay loadable by the reference code. Initialisation follows the reference too:
SR bodies are residual stacks that only train well when every residual branch starts near
zero, which BasicSR achieves by scaling Kaiming-normal weights by 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm

from imagexform.plugin_api import ConfigError
from imagexform_sr.config import SRConfig

MSRRESNET_SCALES = (2, 3, 4)
RRDBNET_SCALES = (1, 2, 4)
# RRDBNet runs its ×4 trunk on a pixel-unshuffled input for the smaller scales (Real-ESRGAN
# x2plus), so the input is folded by this factor before the first convolution.
RRDBNET_UNSHUFFLE = {4: 1, 2: 2, 1: 4}
VGG_INPUT_SIZES = (128, 256)
# The U-Net discriminator halves the resolution three times and adds the skips back.
UNET_D_SIZE_MULTIPLE = 8

# Residual branches start at a tenth of the Kaiming scale (BasicSR's default_init_weights).
RESIDUAL_INIT_SCALE = 0.1
# The dense and residual-in-residual branches are scaled by this before being added back.
RRDB_RESIDUAL_SCALE = 0.2


@torch.no_grad()
def scaled_kaiming_init(modules: Iterable[nn.Module], scale: float) -> None:
    """Kaiming-normal (fan-in, ReLU gain) conv and linear weights times ``scale``, zero biases.

    This is BasicSR's ``default_init_weights``: with ``scale`` 0.1 every residual block
    starts close to the identity, which keeps the deep SR trunks stable early in training.
    """
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(layer.weight)
                layer.weight.mul_(scale)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, 1, 1)


class ResidualBlockNoBN(nn.Module):
    """EDSR-style residual block: batch norm is left out because it removes the range
    flexibility an SR network needs and costs memory without helping quality."""

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.conv1 = _conv3x3(num_feat, num_feat)
        self.conv2 = _conv3x3(num_feat, num_feat)
        scaled_kaiming_init([self.conv1, self.conv2], RESIDUAL_INIT_SCALE)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNet(nn.Module):
    """SRResNet without batch norm (BasicSR's MSRResNet), the SRGAN generator.

    The network predicts only the detail missing from a bilinear upscale of its input, which
    it adds back at the end, so an untrained network already outputs a plausible image.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        if upscale not in MSRRESNET_SCALES:
            raise ValueError(f"MSRResNet supports upscale {MSRRESNET_SCALES}, got {upscale}")
        self.upscale = upscale
        self.conv_first = _conv3x3(num_in_ch, num_feat)
        self.body = nn.Sequential(*(ResidualBlockNoBN(num_feat) for _ in range(num_block)))
        # ×4 is two ×2 pixel-shuffle stages; ×2 and ×3 are one stage of that factor.
        stage_factor = 2 if upscale == 4 else upscale
        self.upconv1 = _conv3x3(num_feat, num_feat * stage_factor**2)
        self.upconv2 = _conv3x3(num_feat, num_feat * 4) if upscale == 4 else None
        self.pixel_shuffle = nn.PixelShuffle(stage_factor)
        self.conv_hr = _conv3x3(num_feat, num_feat)
        self.conv_last = _conv3x3(num_feat, num_out_ch)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        head_and_tail = [self.conv_first, self.upconv1, self.conv_hr, self.conv_last]
        if self.upconv2 is not None:
            head_and_tail.append(self.upconv2)
        scaled_kaiming_init(head_and_tail, RESIDUAL_INIT_SCALE)

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.upconv2 is not None:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        base = F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)
        return out + base


class ResidualDenseBlock(nn.Module):
    """Five densely connected convolutions (each sees every earlier feature map), added back
    to the input at a fifth of their size: ESRGAN's trick for training very deep SR trunks."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = _conv3x3(num_feat, num_grow_ch)
        self.conv2 = _conv3x3(num_feat + num_grow_ch, num_grow_ch)
        self.conv3 = _conv3x3(num_feat + 2 * num_grow_ch, num_grow_ch)
        self.conv4 = _conv3x3(num_feat + 3 * num_grow_ch, num_grow_ch)
        self.conv5 = _conv3x3(num_feat + 4 * num_grow_ch, num_feat)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        scaled_kaiming_init(
            [self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], RESIDUAL_INIT_SCALE
        )

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return self.conv5(torch.cat(features, 1)) * RRDB_RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks with one more scaled skip."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RRDB_RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """The ESRGAN / Real-ESRGAN generator (BasicSR's RRDBNet).

    The trunk always upsamples ×4 (nearest neighbour then a convolution, twice, which avoids
    the checkerboard artefacts of transposed convolutions). Scales 2 and 1 fold the input
    into 4 or 16 times the channels first, so they reuse the same trunk at a quarter or a
    sixteenth of the cost, as Real-ESRGAN's x2plus does; the input's height and width must
    then be multiples of 2 or 4.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in RRDBNET_SCALES:
            raise ValueError(f"RRDBNet supports scale {RRDBNET_SCALES}, got {scale}")
        self.scale = scale
        self.unshuffle = RRDBNET_UNSHUFFLE[scale]
        self.conv_first = _conv3x3(num_in_ch * self.unshuffle**2, num_feat)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = _conv3x3(num_feat, num_feat)
        self.conv_up1 = _conv3x3(num_feat, num_feat)
        self.conv_up2 = _conv3x3(num_feat, num_feat)
        self.conv_hr = _conv3x3(num_feat, num_feat)
        self.conv_last = _conv3x3(num_feat, num_out_ch)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv_up in (self.conv_up1, self.conv_up2):
            feat = self.lrelu(conv_up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class VGGStyleDiscriminator(nn.Module):
    """The SRGAN/ESRGAN discriminator: a VGG-like stack that ends in fully connected layers
    and judges the whole crop with one logit (N×1).

    The flattening needs a 4×4 map after the strided convolutions, which fixes the input to
    128 or 256 pixels square.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        if input_size not in VGG_INPUT_SIZES:
            raise ValueError(
                f"VGGStyleDiscriminator needs input_size {VGG_INPUT_SIZES}, got {input_size}"
            )
        self.input_size = input_size
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat)
        # Each later stage: a 3×3 conv that widens (up to 8·num_feat), a 4×4 stride-2 conv
        # that halves the resolution, each followed by batch norm.
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8]
        if input_size == 256:
            widths.append(num_feat * 8)
        for stage in range(1, len(widths)):
            self.add_module(
                f"conv{stage}_0", nn.Conv2d(widths[stage - 1], widths[stage], 3, 1, 1, bias=False)
            )
            self.add_module(f"bn{stage}_0", nn.BatchNorm2d(widths[stage]))
            self.add_module(
                f"conv{stage}_1", nn.Conv2d(widths[stage], widths[stage], 4, 2, 1, bias=False)
            )
            self.add_module(f"bn{stage}_1", nn.BatchNorm2d(widths[stage]))
        self.num_stages = len(widths)
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"VGGStyleDiscriminator expects {self.input_size}×{self.input_size} inputs, "
                f"got {tuple(x.shape[-2:])}"
            )
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for stage in range(1, self.num_stages):
            for half in (0, 1):
                conv = getattr(self, f"conv{stage}_{half}")
                norm = getattr(self, f"bn{stage}_{half}")
                feat = self.lrelu(norm(conv(feat)))
        feat = self.lrelu(self.linear1(feat.flatten(1)))
        return self.linear2(feat)


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator: one logit per pixel instead of per image.

    Per-pixel feedback tells the generator where an output looks wrong, which matters for
    the complex degradations Real-ESRGAN trains on. Spectral norm on the inner convolutions
    bounds the discriminator's Lipschitz constant, which keeps that stronger discriminator
    from destabilising training. Height and width must be multiples of 8.
    """

    def __init__(
        self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True
    ) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        self.conv0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.conv1 = _sn_conv(num_feat, num_feat * 2, 4, 2)
        self.conv2 = _sn_conv(num_feat * 2, num_feat * 4, 4, 2)
        self.conv3 = _sn_conv(num_feat * 4, num_feat * 8, 4, 2)
        self.conv4 = _sn_conv(num_feat * 8, num_feat * 4, 3, 1)
        self.conv5 = _sn_conv(num_feat * 4, num_feat * 2, 3, 1)
        self.conv6 = _sn_conv(num_feat * 2, num_feat, 3, 1)
        self.conv7 = _sn_conv(num_feat, num_feat, 3, 1)
        self.conv8 = _sn_conv(num_feat, num_feat, 3, 1)
        self.conv9 = nn.Conv2d(num_feat, 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x0 = _lrelu(self.conv0(x))
        x1 = _lrelu(self.conv1(x0))
        x2 = _lrelu(self.conv2(x1))
        x3 = _lrelu(self.conv3(x2))
        out = x3
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            out = _lrelu(conv(_upsample2x(out)))
            if self.skip_connection:
                out = out + skip
        out = _lrelu(self.conv7(out))
        out = _lrelu(self.conv8(out))
        return self.conv9(out)


def _sn_conv(in_channels: int, out_channels: int, kernel_size: int, stride: int) -> nn.Module:
    # The classic hook-based spectral_norm, not the parametrization API: its state-dict keys
    # (weight_orig, weight_u, weight_v) are the ones in Real-ESRGAN's net_d files.
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, 1, bias=False)
    return spectral_norm(conv)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, negative_slope=0.2)


def _upsample2x(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def build_generator(config: SRConfig) -> nn.Module:
    """The generator ``config.arch`` names, initialised as BasicSR initialises it."""
    if config.arch == "srresnet":
        _check_scale(config, MSRRESNET_SCALES)
        return MSRResNet(
            config.num_in_ch, config.num_out_ch, config.num_feat, config.num_block, config.scale
        )
    if config.arch == "rrdbnet":
        _check_scale(config, RRDBNET_SCALES)
        return RRDBNet(
            config.num_in_ch,
            config.num_out_ch,
            config.scale,
            config.num_feat,
            config.num_block,
            config.num_grow_ch,
        )
    if config.arch == "spandrel":
        raise ConfigError(
            f"arch 'spandrel' ({config.spandrel_arch}) models are imported with `imagexform "
            "import`, not built or trained here"
        )
    raise ConfigError(f"setting 'arch' must be 'srresnet' or 'rrdbnet', got {config.arch!r}")


def build_discriminator(config: SRConfig) -> nn.Module:
    """The discriminator ``config.netD`` names. It judges HR crops of ``image_size`` pixels,
    real or generated, so its input has the generator's output channels."""
    if config.netD == "vgg":
        if config.image_size not in VGG_INPUT_SIZES:
            raise ConfigError(
                f"netD 'vgg' needs image_size 128 or 256 (it ends in a fixed-size linear "
                f"layer), got {config.image_size}; use netD 'unet' for other crop sizes"
            )
        return VGGStyleDiscriminator(config.num_out_ch, config.num_feat_D, config.image_size)
    if config.netD == "unet":
        if config.image_size % UNET_D_SIZE_MULTIPLE:
            raise ConfigError(
                f"netD 'unet' needs image_size to be a multiple of {UNET_D_SIZE_MULTIPLE}, "
                f"got {config.image_size}"
            )
        return UNetDiscriminatorSN(config.num_out_ch, config.num_feat_D)
    raise ConfigError(f"setting 'netD' must be 'vgg' or 'unet', got {config.netD!r}")


def size_multiple(config: SRConfig) -> int:
    """What the input's height and width must be multiples of: RRDBNet's pixel-unshuffle
    front needs whole blocks; MSRResNet takes any size; a spandrel import says its own."""
    if config.arch == "spandrel":
        return config.spandrel_multiple
    return RRDBNET_UNSHUFFLE[config.scale] if config.arch == "rrdbnet" else 1


def _check_scale(config: SRConfig, supported: tuple[int, ...]) -> None:
    if config.scale not in supported:
        raise ConfigError(
            f"setting 'scale' must be one of {', '.join(map(str, supported))} for arch "
            f"{config.arch!r}, got {config.scale}"
        )
