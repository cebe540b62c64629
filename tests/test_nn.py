"""Behaviour of the shared network blocks (imagexform.nn) and the pix2pix network builders.

Layout compatibility with the reference is proven against its checkpoints in
test_conformance_junyanz.py; these tests cover what holds for any configuration.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from imagexform.convert.statedict import strip_wrappers
from imagexform.nn import (
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    build_patchgan,
    init_weights,
    norm_layer,
    patch_instance_norm_state,
    uses_bias,
)
from imagexform.nn.generators import image_generator_size_multiple
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.networks import build_discriminator, build_generator


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


# Norms


def test_batch_norm_is_affine_with_running_statistics() -> None:
    layer = norm_layer("batch")(5)
    assert isinstance(layer, nn.BatchNorm2d)
    assert layer.affine and layer.track_running_stats
    assert set(layer.state_dict()) == {
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    }


def test_instance_norm_has_no_state_and_normalises_each_image() -> None:
    layer = norm_layer("instance")(4)
    assert isinstance(layer, nn.InstanceNorm2d)
    assert layer.state_dict() == {}
    x = torch.randn(2, 4, 8, 8) * 3 + 5
    y = layer(x)
    torch.testing.assert_close(y.mean(dim=(2, 3)), torch.zeros(2, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(layer.eval()(x), y)  # no running stats: eval is the same


def test_none_norm_passes_through() -> None:
    layer = norm_layer("none")(4)
    x = torch.randn(1, 4, 3, 3)
    assert layer(x) is x
    assert layer.state_dict() == {}


def test_conv_bias_only_under_instance_norm() -> None:
    assert uses_bias("instance")
    assert not uses_bias("batch")
    assert not uses_bias("none")  # the reference's rule; its norm="none" files have no biases


@pytest.mark.parametrize("call", [norm_layer, uses_bias])
def test_unknown_norm_is_rejected(call) -> None:
    with pytest.raises(ValueError, match="group"):
        call("group")


# Initialisation


def _conv_and_bn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(64, 64, 4), nn.BatchNorm2d(4096), nn.Linear(256, 256))


@pytest.mark.parametrize(
    ("init_type", "gain", "expected_std"),
    [
        ("normal", 0.02, 0.02),
        ("xavier", 0.5, 0.5 * math.sqrt(2 / (1024 + 1024))),
        ("kaiming", 0.02, math.sqrt(2 / 1024)),  # kaiming ignores the gain
    ],
)
def test_init_weight_spread(init_type: str, gain: float, expected_std: float) -> None:
    conv, bn, linear = init_weights(_conv_and_bn(), init_type, gain)
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.03)
    assert conv.weight.mean().item() == pytest.approx(0, abs=expected_std * 0.03)
    assert torch.count_nonzero(conv.bias) == 0
    assert torch.count_nonzero(linear.bias) == 0
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.weight.std().item() == pytest.approx(gain, rel=0.1)
    assert torch.count_nonzero(bn.bias) == 0


def test_orthogonal_init_gives_scaled_orthonormal_rows() -> None:
    conv, _, linear = init_weights(_conv_and_bn(), "orthogonal", 0.5)
    rows = conv.weight.reshape(64, -1)
    torch.testing.assert_close(rows @ rows.T, 0.25 * torch.eye(64), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        linear.weight @ linear.weight.T, 0.25 * torch.eye(256), atol=1e-5, rtol=0
    )


def test_init_reaches_nested_transposed_convs_and_skips_affine_free_norms() -> None:
    net = init_weights(UnetGenerator(3, 3, num_downs=5, ngf=8, norm="instance"), "normal", 0.02)
    upconv = net.model.model[3]
    assert isinstance(upconv, nn.ConvTranspose2d)
    assert upconv.weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert torch.count_nonzero(upconv.bias) == 0


def test_unknown_init_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="uniform"):
        init_weights(nn.Conv2d(1, 1, 1), "uniform")


# PatchGAN discriminators


@pytest.mark.parametrize(
    ("n_layers", "size", "patches"), [(3, 32, 2), (3, 64, 6), (5, 64 + 32, 1), (5, 128, 2)]
)
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_nlayer_discriminator_gives_one_logit_per_patch(
    n_layers: int, size: int, patches: int, norm: str
) -> None:
    net = NLayerDiscriminator(6, ndf=4, n_layers=n_layers, norm=norm)
    out = net(torch.randn(2, 6, size, size))
    assert out.shape == (2, 1, patches, patches)


def test_nlayer_discriminator_width_is_capped_at_eight_ndf() -> None:
    net = NLayerDiscriminator(3, ndf=2, n_layers=5, norm="batch")
    widths = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [2, 4, 8, 16, 16, 16, 1]


@pytest.mark.parametrize(("height", "width"), [(32, 32), (40, 56)])
def test_pixel_discriminator_judges_every_pixel(height: int, width: int) -> None:
    net = PixelDiscriminator(3, ndf=8, norm="instance")
    assert net(torch.randn(1, 3, height, width)).shape == (1, 1, height, width)


def test_pixel_discriminator_has_no_spatial_context() -> None:
    net = PixelDiscriminator(3, ndf=8, norm="none").eval()
    x = torch.randn(1, 3, 16, 16)
    changed = x.clone()
    changed[:, :, 5, 5] += 1
    diff = (net(changed) - net(x)).abs()[0, 0]
    assert diff[5, 5] > 0
    diff[5, 5] = 0
    assert torch.count_nonzero(diff) == 0


def test_build_patchgan_names() -> None:
    basic = build_patchgan("basic", 3, ndf=4, n_layers=5)
    assert len([m for m in basic.modules() if isinstance(m, nn.Conv2d)]) == 5  # always 3 layers
    deep = build_patchgan("n_layers", 3, ndf=4, n_layers=5)
    assert len([m for m in deep.modules() if isinstance(m, nn.Conv2d)]) == 7
    assert isinstance(build_patchgan("pixel", 3, ndf=4), PixelDiscriminator)
    with pytest.raises(ValueError, match="spectral"):
        build_patchgan("spectral", 3)


# Generators


@pytest.mark.parametrize(("num_downs", "size"), [(5, 32), (5, 64), (6, 64)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_unet_keeps_size_and_output_range(num_downs: int, size: int, norm: str) -> None:
    net = UnetGenerator(3, 2, num_downs=num_downs, ngf=4, norm=norm)
    x = torch.randn(2, 3, size, size) * 100  # large inputs saturate the tanh, never pass it
    out = net(x)
    assert out.shape == (2, 2, size, size)
    assert out.abs().max() <= 1


def test_unet_rejects_fewer_than_five_levels() -> None:
    with pytest.raises(ValueError, match="num_downs"):
        UnetGenerator(3, 3, num_downs=4)


def test_unet_dropout_is_random_in_training_only() -> None:
    net = UnetGenerator(3, 3, num_downs=6, ngf=4, norm="instance", dropout=True)
    x = torch.randn(1, 3, 64, 64)
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


@pytest.mark.parametrize("padding_type", ["reflect", "replicate", "zero"])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_resnet_keeps_size_and_output_range(padding_type: str, norm: str) -> None:
    net = ResnetGenerator(3, 1, ngf=4, norm=norm, n_blocks=2, padding_type=padding_type)
    out = net(torch.randn(2, 3, 32, 48) * 100)
    assert out.shape == (2, 1, 32, 48)
    assert out.abs().max() <= 1


def test_resnet_block_is_residual() -> None:
    net = ResnetGenerator(3, 3, ngf=4, norm="none", n_blocks=1)
    block = net.model[10]
    for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):
        nn.init.zeros_(conv.weight)
    x = torch.randn(1, 16, 8, 8)
    assert torch.equal(block(x), x)


def test_zero_padding_puts_convs_first_in_the_block() -> None:
    state = ResnetGenerator(3, 3, ngf=4, norm="instance", n_blocks=1, padding_type="zero")
    assert {k for k in state.state_dict() if "conv_block" in k} == {
        "model.10.conv_block.0.weight",
        "model.10.conv_block.0.bias",
        "model.10.conv_block.3.weight",
        "model.10.conv_block.3.bias",
    }


# pix2pix builders

NETG_MULTIPLES = {
    "unet_32": 32,
    "unet_64": 64,
    "unet_128": 128,
    "unet_256": 256,
    "unet_512": 512,
    "resnet_6blocks": 4,
    "resnet_9blocks": 4,
}


@pytest.mark.parametrize(("netG", "multiple"), NETG_MULTIPLES.items())
def test_build_generator_maps_size_multiple_to_same_size(netG: str, multiple: int) -> None:
    config = Pix2PixConfig(netG=netG, ngf=2, input_nc=1, output_nc=3, norm="instance")
    net = build_generator(config)
    assert image_generator_size_multiple(netG) == multiple
    expected = UnetGenerator if netG.startswith("unet") else ResnetGenerator
    assert isinstance(net, expected)
    size = max(multiple, 8)
    assert net(torch.randn(1, 1, size, size)).shape == (1, 3, size, size)


def test_unet_name_gives_its_depth() -> None:
    net = build_generator(Pix2PixConfig(netG="unet_128", ngf=2))
    downs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert len(downs) == 7


def test_resnet_name_gives_its_block_count() -> None:
    net = build_generator(Pix2PixConfig(netG="resnet_9blocks", ngf=2))
    assert sum(1 for k in net.state_dict() if k.endswith("conv_block.1.weight")) == 9


def _conv_weights(net: nn.Module) -> torch.Tensor:
    convs = [m for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    return torch.cat([m.weight.flatten() for m in convs])


def test_builders_apply_the_configured_init() -> None:
    config = Pix2PixConfig(ngf=8, ndf=8, init_type="normal", init_gain=0.05)
    for net in (build_generator(config), build_discriminator(config)):
        assert _conv_weights(net).std().item() == pytest.approx(0.05, rel=0.02)


@pytest.mark.parametrize("netD", ["basic", "n_layers", "pixel"])
def test_pix2pix_discriminator_sees_input_and_output(netD: str) -> None:
    config = Pix2PixConfig(input_nc=1, output_nc=3, ndf=4, netD=netD, n_layers_D=2)
    net = build_discriminator(config)
    first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 4
    assert net(torch.randn(1, 4, 32, 32)).shape[:2] == (1, 1)


@pytest.mark.parametrize("netG", ["unet_100", "unet_16", "resnet_blocks", "vgg"])
def test_unknown_generator_names_are_rejected(netG: str) -> None:
    with pytest.raises(ValueError, match=netG):
        image_generator_size_multiple(netG)
    with pytest.raises(ValueError, match=netG):
        build_generator(Pix2PixConfig(netG=netG))


# Foreign state dicts


def test_strip_wrappers_removes_data_parallel_and_compile_prefixes() -> None:
    a, b = torch.zeros(1), torch.ones(1)
    assert strip_wrappers({"module.x.weight": a, "module.y": b}) == {"x.weight": a, "y": b}
    assert strip_wrappers({"_orig_mod.x": a}) == {"x": a}
    nested = strip_wrappers({"module._orig_mod.b": b, "module._orig_mod.a": a})
    assert list(nested.items()) == [("b", b), ("a", a)]


def test_strip_wrappers_leaves_a_child_named_module_alone() -> None:
    state = {"module.weight": torch.zeros(1), "head.weight": torch.zeros(1)}
    assert strip_wrappers(state) == state
    assert strip_wrappers({}) == {}


def test_patch_instance_norm_state_drops_only_stale_instance_norm_buffers() -> None:
    net = nn.Sequential(
        nn.Conv2d(2, 2, 1),
        nn.InstanceNorm2d(2),
        nn.BatchNorm2d(2),
        nn.InstanceNorm2d(2, track_running_stats=True),
    )
    legacy = dict(net.state_dict())
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        legacy[f"1.{name}"] = torch.zeros(2)
    legacy["9.unknown"] = torch.zeros(1)

    patched = patch_instance_norm_state(net, legacy)

    dropped = set(legacy) - set(patched)
    assert dropped == {
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.num_batches_tracked",  # always dropped, as the reference does
    }
    assert "2.num_batches_tracked" in patched  # batch norm untouched
    assert "3.running_mean" in patched  # a layer that keeps running stats keeps them
    assert "9.unknown" in patched  # unknown keys stay so a strict load reports them
