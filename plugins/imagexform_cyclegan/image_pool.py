"""A history of generated images for the discriminator (Shrivastava et al. 2017).

Judging only the generator's latest output lets discriminator and generator chase each other
in circles; mixing in older fakes keeps the discriminator's memory of what it already
rejected. CycleGAN uses a pool of 50.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    """Until it holds ``size`` images, returns each new one and keeps it; after that, for
    each new image, returns a stored one in its place with probability ½ (keeping the new
    one instead), else the new one. Random draws come from torch's global generator, which
    the trainer saves and restores; the pool itself starts empty on resume, as the
    reference's does."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        if self.size <= 0:
            return images
        chosen = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                chosen.append(image)
            elif torch.rand(()) < 0.5:
                slot = int(torch.randint(0, self.size, ()))
                chosen.append(self.images[slot])
                self.images[slot] = image.clone()
            else:
                chosen.append(image)
        return torch.stack(chosen)
