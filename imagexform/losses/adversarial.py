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

GanMode = Literal["vanilla", "lsgan", "hinge", "wgangp"]


class AdversarialLoss(nn.Module):
    """vanilla (BCE on logits), lsgan (least squares), hinge, or wgangp (Wasserstein critic).

    ``label_smoothing`` is one-sided (Salimans et al. 2016): only the discriminator's real
    target is lowered, and only for the target-based modes (vanilla, lsgan).
    """

    def __init__(self, mode: GanMode = "vanilla", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if mode not in ("vanilla", "lsgan", "hinge", "wgangp"):
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
        return fake_logits.mean() - real_logits.mean()

    def generator(self, fake_logits: Tensor) -> Tensor:
        """Loss for the generator given the discriminator's logits on its output."""
        if self.mode in ("vanilla", "lsgan"):
            return self._target_loss(fake_logits, 1.0)
        return -fake_logits.mean()


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
