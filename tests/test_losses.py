"""Adversarial losses and the gradient penalty, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from imagexform.losses.adversarial import AdversarialLoss, add_instance_noise, gradient_penalty


def logits(value: float) -> torch.Tensor:
    return torch.full((2, 1, 4, 4), value)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "hinge", "wgangp"])
def test_discriminator_prefers_telling_real_from_fake(mode):
    loss = AdversarialLoss(mode)
    assert loss.discriminator(logits(3.0), logits(-3.0)) < loss.discriminator(
        logits(-3.0), logits(3.0)
    )
    assert loss.generator(logits(3.0)) < loss.generator(logits(-3.0))


def test_known_values():
    vanilla = AdversarialLoss("vanilla")
    assert vanilla.discriminator(logits(0.0), logits(0.0)).item() == pytest.approx(math.log(2))
    lsgan = AdversarialLoss("lsgan")
    assert lsgan.discriminator(logits(1.0), logits(0.0)).item() == pytest.approx(0.0)
    assert lsgan.generator(logits(0.0)).item() == pytest.approx(1.0)
    hinge = AdversarialLoss("hinge")
    assert hinge.discriminator(logits(0.0), logits(0.0)).item() == pytest.approx(2.0)
    assert hinge.discriminator(logits(2.0), logits(-2.0)).item() == pytest.approx(0.0)
    wgan = AdversarialLoss("wgangp")
    assert wgan.discriminator(logits(1.5), logits(-0.5)).item() == pytest.approx(-2.0)
    assert wgan.generator(logits(-0.5)).item() == pytest.approx(0.5)


def test_one_sided_label_smoothing_moves_only_the_real_target():
    smooth = AdversarialLoss("lsgan", label_smoothing=0.1)
    assert smooth.discriminator(logits(0.9), logits(0.0)).item() == pytest.approx(0.0)
    assert smooth.generator(logits(1.0)).item() == pytest.approx(0.0)  # G still aims at 1
    with pytest.raises(ValueError, match="label_smoothing"):
        AdversarialLoss("vanilla", label_smoothing=1.0)
    with pytest.raises(ValueError, match="unknown GAN mode"):
        AdversarialLoss("wgan")


def test_gradient_penalty_of_a_linear_critic_is_exact():
    weight = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # gradient norm 5 per pixel -> 5*2 overall

    def critic(x: torch.Tensor) -> torch.Tensor:
        return (x * weight).sum(dim=(1, 2, 3))

    real, fake = torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2)
    penalty = gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx((10.0 - 1.0) ** 2)


def test_gradient_penalty_reaches_the_critic_parameters():
    critic = torch.nn.Conv2d(2, 1, 3)
    penalty = gradient_penalty(critic, torch.randn(2, 2, 8, 8), torch.randn(2, 2, 8, 8))
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_instance_noise():
    images = torch.zeros(4, 3, 32, 32)
    assert add_instance_noise(images, 0.0) is images
    noisy = add_instance_noise(images, 0.5)
    assert noisy.std().item() == pytest.approx(0.5, rel=0.1)


def test_relativistic_average_loss_compares_each_side_with_the_other_mean():
    ragan = AdversarialLoss("ragan")
    real, fake = logits(2.0), logits(-2.0)
    # D: real - mean(fake) = 4 should be "real", fake - mean(real) = -4 "fake"
    expected = torch.nn.functional.softplus(torch.tensor(-4.0)).item()
    assert ragan.discriminator(real, fake).item() == pytest.approx(expected, rel=1e-5)
    # G wants the opposite judgement
    expected_g = torch.nn.functional.softplus(torch.tensor(4.0)).item()
    assert ragan.generator(fake, real).item() == pytest.approx(expected_g, rel=1e-5)
    with pytest.raises(ValueError, match="needs the logits on real images"):
        ragan.generator(fake)


def test_relativistic_generator_gradient_reaches_fake_logits_only():
    ragan = AdversarialLoss("ragan")
    real = torch.randn(2, 1, 3, 3, requires_grad=True)
    fake = torch.randn(2, 1, 3, 3, requires_grad=True)
    ragan.generator(fake, real).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None
