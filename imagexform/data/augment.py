"""Augmentation for single images and image pairs.

The two images of a pair must get the very same geometry or the model learns misaligned
targets, so they are stacked along channels and transformed once. Random parameters come from
a generator seeded by the sample seed, so a sample looks the same in any worker process and
after a resume.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import hflip, resize
from torch import Tensor


def default_load_size(crop_size: int) -> int:
    """The reference pix2pix ratio (286 for a 256 crop): enough margin for the random crop
    to act as jitter without cutting away much of the picture."""
    return crop_size * 286 // 256


def checked_load_size(load_size: int, crop_size: int) -> int:
    """``load_size``, 0 meaning :func:`default_load_size`; a ConfigError when the random crop
    would not fit in it."""
    from imagexform.errors import ConfigError

    load_size = load_size or default_load_size(crop_size)
    if crop_size < 1 or load_size < crop_size:
        raise ConfigError(
            f"load_size ({load_size}) must be at least the crop size ({crop_size}) and "
            "the crop size positive"
        )
    return load_size


def _resize_square(pair: Tensor, size: int) -> Tensor:
    if pair.shape[-2:] == (size, size):
        return pair
    return resize(pair, (size, size), interpolation="bilinear", align_corners=False, antialias=True)


def augment_pair(
    a: Tensor, b: Tensor, *, load_size: int, crop_size: int, flip: bool, seed: int
) -> tuple[Tensor, Tensor]:
    """:func:`augment_image` applied identically to both C×H×W images."""
    pair = augment_image(
        torch.cat([a, b]), load_size=load_size, crop_size=crop_size, flip=flip, seed=seed
    )
    return pair[: a.shape[0]].contiguous(), pair[a.shape[0] :].contiguous()


def augment_image(
    image: Tensor, *, load_size: int, crop_size: int, flip: bool, seed: int
) -> Tensor:
    """Resize a C×H×W image to ``load_size`` square (aspect is not kept, as in the reference
    implementation), crop a random ``crop_size`` window and flip it horizontally half of the
    time."""
    if load_size < crop_size:
        raise ValueError(f"load_size {load_size} is smaller than crop_size {crop_size}")
    generator = torch.Generator()
    generator.manual_seed(seed)
    # Draw every parameter whatever the options, so enabling flip does not move the crops.
    top, left = torch.randint(0, load_size - crop_size + 1, (2,), generator=generator).tolist()
    mirror = bool(torch.rand((), generator=generator) < 0.5)
    batch = _resize_square(image.unsqueeze(0), load_size)
    batch = batch[:, :, top : top + crop_size, left : left + crop_size]
    if flip and mirror:
        batch = hflip(batch)
    return batch.squeeze(0).contiguous()


def resize_pair(a: Tensor, b: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """:func:`resize_image` of both images."""
    pair = resize_image(torch.cat([a, b]), size)
    return pair[: a.shape[0]].contiguous(), pair[a.shape[0] :].contiguous()


def resize_image(image: Tensor, size: int) -> Tensor:
    """The evaluation transform: the whole picture at the training crop size, no randomness,
    so validation metrics are comparable from one run to the next."""
    return _resize_square(image.unsqueeze(0), size).squeeze(0).contiguous()
