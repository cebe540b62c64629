"""Pixel and perceptual losses: named layers, weight lookup without downloads, gradients."""

from __future__ import annotations

import pytest
import torch
import torchvision

from imagexform.errors import ConfigError
from imagexform.losses.perceptual import (
    RANDOM_VGG_ENV,
    PerceptualLoss,
    VGGFeatures,
    layer_indices,
    parse_layer_weights,
)
from imagexform.losses.pixel import CharbonnierLoss, pixel_loss


def test_layer_names_match_torchvision_indices():
    vgg19, vgg16 = layer_indices("vgg19"), layer_indices("vgg16")
    assert vgg19["conv5_4"] == 34 and vgg19["relu5_4"] == 35 and vgg19["pool5"] == 36
    # the pytorch/examples style-transfer slices end at relu1_2, relu2_2, relu3_3, relu4_3
    assert [vgg16[n] for n in ("relu1_2", "relu2_2", "relu3_3", "relu4_3")] == [3, 8, 15, 22]
    features = torchvision.models.vgg19(weights=None).features
    assert isinstance(features[vgg19["conv3_4"]], torch.nn.Conv2d)
    assert isinstance(features[vgg19["relu3_4"]], torch.nn.ReLU)


def test_missing_weights_stop_with_instructions(monkeypatch, tmp_path):
    monkeypatch.delenv(RANDOM_VGG_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(ConfigError) as error:
        VGGFeatures("vgg19", ["conv5_4"])
    message = str(error.value)
    assert "vgg19-dcbb9e9d.pth" in message and str(tmp_path) in message
    assert "vgg_weights=PATH" in message
    with pytest.raises(ConfigError, match="not found"):
        VGGFeatures("vgg19", ["conv5_4"], weights_path=str(tmp_path / "nope.pth"))


def test_weights_load_from_a_file_the_user_names(monkeypatch, tmp_path):
    monkeypatch.delenv(RANDOM_VGG_ENV, raising=False)
    reference = torchvision.models.vgg16(weights=None)
    path = tmp_path / "my-vgg16.pth"
    torch.save(reference.state_dict(), path)
    features = VGGFeatures("vgg16", ["relu2_2"], weights_path=str(path))
    images = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference.features[:9]((images - mean) / std)
        assert torch.allclose(features(images)["relu2_2"], expected, atol=1e-6)


def test_perceptual_loss_trains_the_output_not_the_vgg(monkeypatch):
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")
    loss = PerceptualLoss(parse_layer_weights("conv2_2:0.5, conv5_4"), "vgg19")
    loss.train()
    assert not loss.vgg.training
    target = torch.rand(2, 3, 32, 32)
    assert loss(target, target).item() == 0.0
    output = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss(output, target).backward()
    assert output.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())


def test_layer_weight_parsing_and_errors(monkeypatch):
    assert parse_layer_weights("conv1_2:0.1,conv5_4") == {"conv1_2": 0.1, "conv5_4": 1.0}
    with pytest.raises(ConfigError, match="layer:number"):
        parse_layer_weights("conv1_2:lots")
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")
    with pytest.raises(ConfigError, match="unknown vgg19 layer"):
        VGGFeatures("vgg19", ["conv6_1"])


def test_pixel_losses():
    output, target = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 2.0)
    assert pixel_loss("l1")(output, target).item() == pytest.approx(2.0)
    assert pixel_loss("mse")(output, target).item() == pytest.approx(4.0)
    assert CharbonnierLoss(eps=1e-3)(output, target).item() == pytest.approx(2.0, abs=1e-5)
    assert CharbonnierLoss(eps=1e-3)(target, target).item() == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="unknown pixel loss"):
        pixel_loss("l3")
