"""Adversarial objectives for patch (or global) discriminators.

One object computes both sides of the game so a family cannot pair a discriminator loss with
the wrong generator loss. Discriminators return raw logits; the modes differ only here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GanMode = Literal["vanilla", "lsgan", "hinge", "wgangp", "ragan"]


class AdversarialLoss(nn.Module):
    """vanilla (BCE on logits), lsgan (least squares), hinge, wgangp (Wasserstein critic) or
    ragan (relativistic average, ESRGAN: each side judged relative to the other's mean).

    ``label_smoothing`` is one-sided (Salimans et al. 2016): only the discriminator's real
    target is lowered, and only for the target-based modes (vanilla, lsgan).
    """

    def __init__(self, mode: GanMode = "vanilla", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if mode not in ("vanilla", "lsgan", "hinge", "wgangp", "ragan"):
            raise ValueError(f"unknown GAN mode {mode!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.mode = mode
        self.real_target = 1.0 - label_smoothing

    def _target_loss(self, logits: Tensor, target: float) -> Tensor:
        targets = torch.full_like(logits, target)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.mse_loss(logits, targets)

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Loss for the discriminator given its logits on real and on (detached) fake inputs."""
        if self.mode in ("vanilla", "lsgan"):
            real = self._target_loss(real_logits, self.real_target)
            fake = self._target_loss(fake_logits, 0.0)
            return 0.5 * (real + fake)
        if self.mode == "hinge":
            return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        if self.mode == "ragan":
            # each half judges against the other side's mean as a constant, as ESRGAN trains
            return self._relativistic(
                real_logits, fake_logits, self.real_target, 0.0, detach_means=True
            )
        return fake_logits.mean() - real_logits.mean()

    def generator(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Loss for the generator given the discriminator's logits on its output (and, for
        ragan, on real images: the generator is judged relative to them)."""
        if self.mode in ("vanilla", "lsgan"):
            return self._target_loss(fake_logits, 1.0)
        if self.mode == "ragan":
            if real_logits is None:
                raise ValueError("the ragan generator loss needs the logits on real images")
            return self._relativistic(
                real_logits.detach(), fake_logits, 0.0, 1.0, detach_means=False
            )
        return -fake_logits.mean()

    @staticmethod
    def _relativistic(
        real: Tensor, fake: Tensor, real_target: float, fake_target: float, detach_means: bool
    ) -> Tensor:
        real_mean, fake_mean = real.mean(), fake.mean()
        if detach_means:
            real_mean, fake_mean = real_mean.detach(), fake_mean.detach()
        real_vs_fake = real - fake_mean
        fake_vs_real = fake - real_mean
        real_loss = F.binary_cross_entropy_with_logits(
            real_vs_fake, torch.full_like(real_vs_fake, real_target)
        )
        fake_loss = F.binary_cross_entropy_with_logits(
            fake_vs_real, torch.full_like(fake_vs_real, fake_target)
        )
        return 0.5 * (real_loss + fake_loss)


def gradient_penalty(
    discriminator: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    target_norm: float = 1.0,
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017) on random interpolates of real and fake.

    Returns the unweighted penalty; the caller multiplies by its λ and adds it to the
    discriminator loss, so that it is actually optimised.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (gradients,) = torch.autograd.grad(
        outputs=scores.sum(), inputs=mixed, create_graph=True, retain_graph=True
    )
    norms = gradients.flatten(1).norm(2, dim=1)
    return ((norms - target_norm) ** 2).mean()


def add_instance_noise(images: Tensor, std: float) -> Tensor:
    """Gaussian instance noise on discriminator inputs (Sønderby et al. 2016); no-op at 0."""
    if std <= 0.0:
        return images
    return images + std * torch.randn_like(images)
