"""PSNR and SSIM as super-resolution papers report them, torch-free.

The numbers in SR tables are only comparable when computed the same way, and that way is
BasicSR's (itself following the MATLAB scripts of the original papers): images on the
[0, 255] scale, ``crop_border`` pixels dropped on every side (the scale factor, by
convention), optionally only the luma channel Y of ITU-R BT.601 as MATLAB's ``rgb2ycbcr``
computes it, PSNR from the mean squared error over all pixels and channels, SSIM with an
11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, over the window positions that fit
inside the image, averaged over channels.

Pixel values are read by dtype: uint8 as 0..255, uint16 as 0..65535, floats as 0..1 (the
range of our datasets and model outputs). Everything is rescaled to 0..255 before measuring,
so the same picture scores the same in any of the three forms. Both images must have the same
shape, H×W or H×W×C.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0  # per 0..255 R, G, B
_Y_OFFSET = 16.0
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
# A float image whose values reach this far is almost certainly 0..255 data, which would be
# rescaled a second time and score nonsense; bicubic overshoot stays far below it.
_FLOAT_LIMIT = 2.0

__all__ = ["psnr", "rgb_to_y", "sr_scores", "ssim", "to_255"]


def to_255(image: np.ndarray) -> np.ndarray:
    """The image as float64 on the 0..255 scale, per the dtype convention above."""
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    if image.dtype == np.uint16:
        return image.astype(np.float64) * (255.0 / 65535.0)
    if np.issubdtype(image.dtype, np.floating):
        if image.size and np.nanmax(np.abs(image)) > _FLOAT_LIMIT:
            raise ValueError(
                "float images are measured as 0..1, but this one reaches "
                f"{np.nanmax(np.abs(image)):.4g}; divide 0..255 data by 255 or pass uint8"
            )
        return image.astype(np.float64) * 255.0
    raise TypeError(f"expected uint8, uint16 or float pixels, got {image.dtype}")


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an H×W×3 RGB image on the 0..255 scale, as MATLAB's ``rgb2ycbcr``:
    ``16 + 65.481 R + 128.553 G + 24.966 B`` for R, G, B in 0..1, so 16..235. Returns
    H×W×1 float64, unrounded (BasicSR's convention)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects an H×W×3 RGB image, got shape {image.shape}")
    return (to_255(image) @ _Y_WEIGHTS + _Y_OFFSET)[:, :, None]


def _prepare(
    a: np.ndarray, b: np.ndarray, crop_border: int, y_channel: bool
) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"expected H×W or H×W×C images, got shape {a.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must not be negative, got {crop_border}")
    if 2 * crop_border >= min(a.shape[:2]):
        raise ValueError(
            f"crop_border {crop_border} leaves nothing of a {a.shape[1]}×{a.shape[0]} image"
        )
    pair = []
    for image in (a, b):
        image = image if image.ndim == 3 else image[:, :, None]
        # BasicSR leaves single-channel images as they are when asked for Y.
        image = rgb_to_y(image) if y_channel and image.shape[2] == 3 else to_255(image)
        if crop_border:
            image = image[crop_border:-crop_border, crop_border:-crop_border]
        pair.append(image)
    return pair[0], pair[1]


def psnr(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB, peak 255; ``inf`` for identical images."""
    first, second = _prepare(a, b, crop_border, y_channel)
    mse = float(np.mean((first - second) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _ssim_channel(first: np.ndarray, second: np.ndarray) -> float:
    kernel = cv2.getGaussianKernel(_SSIM_WINDOW, _SSIM_SIGMA).astype(np.float64)
    margin = _SSIM_WINDOW // 2

    def local_mean(image: np.ndarray) -> np.ndarray:
        # Only positions where the whole window lies inside the image count, so the border
        # mode OpenCV pads with is irrelevant.
        blurred = cv2.sepFilter2D(image, cv2.CV_64F, kernel, kernel)
        return blurred[margin:-margin, margin:-margin]

    mu1, mu2 = local_mean(first), local_mean(second)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = local_mean(first * first) - mu1_sq
    sigma2_sq = local_mean(second * second) - mu2_sq
    sigma12 = local_mean(first * second) - mu1_mu2
    numerator = (2 * mu1_mu2 + _SSIM_C1) * (2 * sigma12 + _SSIM_C2)
    denominator = (mu1_sq + mu2_sq + _SSIM_C1) * (sigma1_sq + sigma2_sq + _SSIM_C2)
    return float(np.mean(numerator / denominator))


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """Structural similarity, 1.0 for identical images; per channel, then averaged. The
    image left after ``crop_border`` must be at least 11×11, the window's size."""
    first, second = _prepare(a, b, crop_border, y_channel)
    if min(first.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs at least {_SSIM_WINDOW}×{_SSIM_WINDOW} pixels after cropping "
            f"{crop_border} per side; the images are {a.shape[1]}×{a.shape[0]}"
        )
    channels = first.shape[2]
    return float(np.mean([_ssim_channel(first[:, :, c], second[:, :, c]) for c in range(channels)]))


def sr_scores(output: np.ndarray, target: np.ndarray, crop_border: int) -> dict[str, float]:
    """The four numbers SR results are reported with, under one set of keys: PSNR and SSIM
    on Y (``psnr_y``, ``ssim_y``) and on RGB (``psnr_rgb``, ``ssim_rgb``). ``crop_border`` is
    the scale factor by convention; evaluation and training validation both use this, so
    their numbers are comparable."""
    return {
        "psnr_y": psnr(output, target, crop_border, y_channel=True),
        "ssim_y": ssim(output, target, crop_border, y_channel=True),
        "psnr_rgb": psnr(output, target, crop_border),
        "ssim_rgb": ssim(output, target, crop_border),
    }
