"""The SR networks at tiny widths: shapes at every scale, the residual paths the reference
relies on, BasicSR's initialisation, spectral norm, and the config builders."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imagexform.errors import ConfigError
from imagexform_sr.config import SRConfig
from imagexform_sr.networks import (
    RRDB,
    MSRResNet,
    ResidualDenseBlock,
    RRDBNet,
    UNetDiscriminatorSN,
    VGGStyleDiscriminator,
    build_discriminator,
    build_generator,
    size_multiple,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize(("num_in_ch", "num_out_ch"), [(3, 3), (1, 3)])
def test_msrresnet_output_shapes(scale: int, num_in_ch: int, num_out_ch: int) -> None:
    net = MSRResNet(num_in_ch, num_out_ch, num_feat=8, num_block=2, upscale=scale)
    out = net(torch.rand(2, num_in_ch, 16, 24))
    assert out.shape == (2, num_out_ch, 16 * scale, 24 * scale)


@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("num_block", [1, 2])
def test_rrdbnet_output_shapes(scale: int, num_block: int) -> None:
    net = RRDBNet(3, 3, scale=scale, num_feat=8, num_block=num_block, num_grow_ch=4)
    out = net(torch.rand(2, 3, 16, 32))
    assert out.shape == (2, 3, 16 * scale, 32 * scale)


@pytest.mark.parametrize(("scale", "folded"), [(4, 1), (2, 4), (1, 16)])
def test_rrdbnet_folds_the_input_for_small_scales(scale: int, folded: int) -> None:
    """Real-ESRGAN x2plus's layout: the first conv sees pixel-unshuffled input."""
    net = RRDBNet(num_in_ch=3, num_out_ch=1, scale=scale, num_feat=8, num_block=1)
    assert net.conv_first.in_channels == 3 * folded
    assert net.conv_last.out_channels == 1


def test_msrresnet_upsampling_layers_follow_basicsr() -> None:
    x2 = MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()
    x3 = MSRResNet(num_feat=8, num_block=1, upscale=3).state_dict()
    x4 = MSRResNet(num_feat=8, num_block=1, upscale=4).state_dict()
    assert x2["upconv1.weight"].shape[0] == 4 * 8 and "upconv2.weight" not in x2
    assert x3["upconv1.weight"].shape[0] == 9 * 8 and "upconv2.weight" not in x3
    assert x4["upconv1.weight"].shape[0] == x4["upconv2.weight"].shape[0] == 4 * 8


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_adds_the_bilinear_upscale(scale: int) -> None:
    """With the last conv silenced, what remains is the bilinear skip the body refines."""
    net = MSRResNet(num_feat=8, num_block=1, upscale=scale)
    nn.init.zeros_(net.conv_last.weight)
    nn.init.zeros_(net.conv_last.bias)
    x = torch.rand(1, 3, 10, 12)
    expected = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    torch.testing.assert_close(net(x), expected)


def test_rrdb_residuals_are_scaled_by_a_fifth() -> None:
    """A dense block whose last conv outputs only its bias b adds 0.2·b; an RRDB of three
    silenced dense blocks returns 1.2·x (its own 0.2-scaled skip on top of the identity)."""
    block = ResidualDenseBlock(num_feat=4, num_grow_ch=2)
    nn.init.zeros_(block.conv5.weight)
    nn.init.constant_(block.conv5.bias, 1.0)
    x = torch.rand(1, 4, 6, 6)
    torch.testing.assert_close(block(x), x + 0.2)

    rrdb = RRDB(num_feat=4, num_grow_ch=2)
    for dense in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3):
        nn.init.zeros_(dense.conv5.weight)
        nn.init.zeros_(dense.conv5.bias)
    torch.testing.assert_close(rrdb(x), 1.2 * x)


def test_rrdbnet_upsamples_with_nearest_neighbour() -> None:
    """A body that does nothing and identity 1×1-like convs must reproduce pixel repetition:
    checks that the ×4 comes from nearest upsampling, not from a learned shuffle."""
    net = RRDBNet(num_in_ch=1, num_out_ch=1, scale=4, num_feat=1, num_block=0)
    with torch.no_grad():
        for conv in (net.conv_first, net.conv_up1, net.conv_up2, net.conv_hr, net.conv_last):
            conv.weight.zero_()
            conv.weight[0, 0, 1, 1] = 1.0
            conv.bias.zero_()
        net.conv_body.weight.zero_()
        net.conv_body.bias.zero_()
    x = torch.rand(1, 1, 5, 7)
    torch.testing.assert_close(net(x), F.interpolate(x, scale_factor=4, mode="nearest"))


@pytest.mark.parametrize(
    ("make", "value"),
    [
        (lambda: MSRResNet(upscale=5), 5),
        (lambda: MSRResNet(upscale=1), 1),
        (lambda: RRDBNet(scale=3), 3),
        (lambda: RRDBNet(scale=8), 8),
        (lambda: VGGStyleDiscriminator(input_size=96), 96),
    ],
)
def test_unsupported_sizes_are_refused(make: Callable[[], nn.Module], value: int) -> None:
    with pytest.raises(ValueError, match=str(value)):
        make()


def _std_ratio(weight: torch.Tensor, expected_std: float) -> float:
    return float(weight.detach().std()) / expected_std


def test_initialisation_follows_basicsr() -> None:
    """Residual branches: Kaiming-normal (ReLU gain) × 0.1 and zero bias. RRDBNet's outer
    convs keep PyTorch's default init and MSRResNet scales every conv, as BasicSR does."""
    rrdb = RRDBNet(num_feat=64, num_block=1, num_grow_ch=32)
    dense = rrdb.body[0].rdb2
    for conv in (dense.conv1, dense.conv3, dense.conv5):
        fan_in = conv.weight[0].numel()
        assert _std_ratio(conv.weight, 0.1 * math.sqrt(2 / fan_in)) == pytest.approx(1, abs=0.05)
        assert not conv.bias.any()
    # PyTorch's default conv init: uniform with std 1/sqrt(3·fan_in), non-zero bias.
    fan_in = rrdb.conv_body.weight[0].numel()
    assert _std_ratio(rrdb.conv_body.weight, 1 / math.sqrt(3 * fan_in)) == pytest.approx(
        1, abs=0.05
    )
    assert rrdb.conv_body.bias.any()

    srresnet = MSRResNet(num_feat=64, num_block=1, upscale=4)
    for conv in (srresnet.conv_first, srresnet.body[0].conv2, srresnet.upconv2, srresnet.conv_hr):
        fan_in = conv.weight[0].numel()
        assert _std_ratio(conv.weight, 0.1 * math.sqrt(2 / fan_in)) == pytest.approx(1, abs=0.1)
        assert not conv.bias.any()


@pytest.mark.parametrize(
    "net",
    [
        MSRResNet(num_feat=4, num_block=2, upscale=4),
        MSRResNet(num_feat=4, num_block=1, upscale=3),
        RRDBNet(num_feat=4, num_block=2, num_grow_ch=2, scale=2),
        VGGStyleDiscriminator(num_feat=2),
        UNetDiscriminatorSN(num_feat=4),
    ],
    ids=lambda net: type(net).__name__,
)
def test_every_parameter_is_used(net: nn.Module) -> None:
    size = 128 if isinstance(net, VGGStyleDiscriminator) else 16
    net(torch.rand(2, 3, size, size)).square().mean().backward()
    unused = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert unused == []


@pytest.mark.parametrize("input_size", [128, 256])
def test_vgg_discriminator_scores_each_crop(input_size: int) -> None:
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=input_size).eval()
    x = torch.rand(3, 3, input_size, input_size)
    assert net(x).shape == (3, 1)
    # Training runs channels_last on CUDA; BasicSR's view() fails there, flatten must not.
    torch.testing.assert_close(net(x.contiguous(memory_format=torch.channels_last)), net(x))
    with pytest.raises(ValueError, match="expects"):
        net(torch.rand(1, 3, input_size // 2, input_size // 2))


def test_vgg_discriminator_key_order_follows_basicsr() -> None:
    names = [n for n in VGGStyleDiscriminator(num_feat=2, input_size=256).state_dict()]
    stages = [f"conv0_0.{p}" for p in ("weight", "bias")] + ["conv0_1.weight"]
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    stages += [f"bn0_1.{p}" for p in bn]
    for stage in range(1, 6):
        for half in (0, 1):
            stages += [f"conv{stage}_{half}.weight"] + [f"bn{stage}_{half}.{p}" for p in bn]
    assert names == [*stages, "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]


@pytest.mark.parametrize("size", [(32, 32), (48, 64)])
@pytest.mark.parametrize("skip_connection", [True, False])
def test_unet_discriminator_scores_each_pixel(size: tuple[int, int], skip_connection: bool) -> None:
    net = UNetDiscriminatorSN(num_in_ch=3, num_feat=4, skip_connection=skip_connection)
    assert net(torch.rand(2, 3, *size)).shape == (2, 1, *size)


def test_unet_discriminator_uses_real_esrgan_spectral_norm_keys() -> None:
    state = UNetDiscriminatorSN(num_feat=4).state_dict()
    for i in range(1, 9):
        assert {k for k in state if k.startswith(f"conv{i}.")} == {
            f"conv{i}.weight_orig",
            f"conv{i}.weight_u",
            f"conv{i}.weight_v",
        }
    for i in (0, 9):
        assert {k for k in state if k.startswith(f"conv{i}.")} == {
            f"conv{i}.weight",
            f"conv{i}.bias",
        }


def _largest_singular_value(weight: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2))


def test_spectral_norm_bounds_the_inner_convolutions() -> None:
    """Each train-mode forward runs one power iteration; once they have converged, every
    normalised weight has spectral norm 1, however large the raw weights are."""
    net = UNetDiscriminatorSN(num_feat=8).train()
    inner = [getattr(net, f"conv{i}") for i in range(1, 9)]
    with torch.no_grad():
        for conv in inner:
            conv.weight_orig.mul_(5)
        assert all(_largest_singular_value(c.weight_orig) > 2 for c in inner)
        for _ in range(100):
            net(torch.rand(1, 3, 16, 16))
    for conv in inner:
        assert _largest_singular_value(conv.weight) == pytest.approx(1, abs=0.05)

    before = [c.weight_u.clone() for c in inner]
    net.eval()
    with torch.no_grad():
        net(torch.rand(1, 3, 16, 16))
    assert all(torch.equal(c.weight_u, u) for c, u in zip(inner, before, strict=True))


@pytest.mark.parametrize(
    ("config", "kind", "attributes"),
    [
        (
            SRConfig(arch="srresnet", scale=3, num_feat=8, num_block=2, num_in_ch=1),
            MSRResNet,
            {"upscale": 3},
        ),
        (
            SRConfig(arch="rrdbnet", scale=2, num_feat=8, num_block=2, num_grow_ch=4),
            RRDBNet,
            {"scale": 2},
        ),
    ],
    ids=["srresnet", "rrdbnet"],
)
def test_build_generator_maps_the_config(
    config: SRConfig, kind: type[nn.Module], attributes: dict[str, int]
) -> None:
    net = build_generator(config)
    assert type(net) is kind
    assert {key: getattr(net, key) for key in attributes} == attributes
    assert net.conv_first.out_channels == config.num_feat
    assert len(net.body) == config.num_block
    assert net.conv_last.out_channels == config.num_out_ch
    out = net(torch.rand(1, config.num_in_ch, 8, 8))
    assert out.shape == (1, config.num_out_ch, 8 * config.scale, 8 * config.scale)
    if isinstance(net, RRDBNet):
        assert net.body[0].rdb1.conv1.out_channels == config.num_grow_ch


@pytest.mark.parametrize(("arch", "scale"), [("srresnet", 1), ("srresnet", 8), ("rrdbnet", 3)])
def test_build_generator_names_unsupported_scales(arch: str, scale: int) -> None:
    with pytest.raises(ConfigError, match=rf"'scale' must be one of .* for arch '{arch}'"):
        build_generator(SRConfig(arch=arch, scale=scale, num_feat=4, num_block=1))


def test_build_discriminator_maps_the_config() -> None:
    vgg = build_discriminator(SRConfig(netD="vgg", num_feat_D=4, image_size=256, num_out_ch=1))
    assert isinstance(vgg, VGGStyleDiscriminator)
    assert (vgg.input_size, vgg.conv0_0.in_channels, vgg.conv0_0.out_channels) == (256, 1, 4)

    unet = build_discriminator(SRConfig(netD="unet", num_feat_D=4, image_size=96))
    assert isinstance(unet, UNetDiscriminatorSN)
    assert (unet.conv0.in_channels, unet.conv0.out_channels) == (3, 4)
    assert unet(torch.rand(1, 3, 96, 96)).shape == (1, 1, 96, 96)


@pytest.mark.parametrize(("netD", "image_size"), [("vgg", 96), ("unet", 100)])
def test_build_discriminator_refuses_crop_sizes_it_cannot_judge(netD: str, image_size: int) -> None:
    with pytest.raises(ConfigError, match=f"netD '{netD}' needs image_size"):
        build_discriminator(SRConfig(netD=netD, image_size=image_size, num_feat_D=4))


@pytest.mark.parametrize(
    ("arch", "scale", "multiple"),
    [("rrdbnet", 4, 1), ("rrdbnet", 2, 2), ("rrdbnet", 1, 4), ("srresnet", 3, 1)],
)
def test_size_multiple(arch: str, scale: int, multiple: int) -> None:
    config = SRConfig(arch=arch, scale=scale, num_feat=4, num_block=1)
    assert size_multiple(config) == multiple
    net = build_generator(config)
    side = 4 * multiple + (0 if multiple == 1 else multiple)
    assert net(torch.rand(1, 3, side, side)).shape[-1] == side * scale
    if multiple > 1:
        with pytest.raises(RuntimeError):
            net(torch.rand(1, 3, side + 1, side))
