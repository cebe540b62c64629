"""Real-ESRGAN's second-order degradation: realistic low-resolution inputs made from clean
photos.

A model trained only on bicubic downscales falls apart on real pictures, which are blurred,
noisy and JPEG-compressed, often more than once (a photo re-saved after a resize). Real-ESRGAN
(Wang et al., 2021) simulates that by running a blur → resize → noise → JPEG chain twice with
random parameters, then resizing to the target size. The defaults are the ones its published
``train_realesrgan_x4plus.yml`` uses (first round / second round):

* **blur**: always / 80 % of the time. A kernel of 7..21 px (odd), zero-padded to 21: Gaussian
  isotropic 45 %, anisotropic 25 % (rotated, each axis drawn separately), generalized Gaussian
  isotropic 12 %, anisotropic 3 % (β 0.5..4), plateau isotropic 12 %, anisotropic 3 %
  (β 1..2), with σ 0.2..3 / 0.2..1.5; or, 10 % of the time, a sinc (circular low-pass).
* **resize**: up 20 % / 30 % (×1..1.5 / ×1..1.2), down 70 % / 40 % (×0.15..1 / ×0.3..1),
  keep 10 % / 30 %, by area, bilinear or bicubic interpolation. The second round's factor
  applies to the target size, not to the current one.
* **noise**: Gaussian (σ 1..30 / 1..25 levels of 255) or Poisson (strength ×0.05..3 /
  ×0.05..2.5), half and half; the same noise on all channels 40 % of the time.
* **JPEG**: quality 30..95, after the first round only.

Then the final resize to the target size (random mode) together with a sinc filter (80 % of
the time; it mimics ringing), and a last JPEG (quality 30..95) before or after that, half and
half. The result is clipped and rounded to 8-bit levels, as a real LR file would be.

Differences from the reference: it degrades a whole training batch on the GPU after cropping a
400 px patch; here each sample is degraded on its own on the CPU (so loader workers do it in
parallel) and the patch is the training crop itself. JPEG is OpenCV's encoder at an integer
quality rather than a differentiable JPEG. Sharpening the target (Real-ESRGAN's ``gt_usm``)
belongs to the training step, not the data.

Every random choice is drawn from the generator passed in, so a sample seed reproduces the
same degraded image in any worker and after a resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from torch import Tensor

KernelKind = Literal[
    "iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"
]
_RESIZE_MODES = ("area", "bilinear", "bicubic")
_KERNEL_SIZES = tuple(range(7, 22, 2))
_PADDED_KERNEL = 21  # every kernel is zero-padded to this size, as in the reference

__all__ = ["DegradationRound", "RealESRGANDegradation", "degrade"]


@dataclass(frozen=True)
class DegradationRound:
    """The random ranges of one blur → resize → noise → JPEG round. Sigma of the Gaussian
    noise is in 8-bit levels; ``resize_probabilities`` are (up, down, keep)."""

    blur_probability: float
    blur_sigma: tuple[float, float]
    resize_probabilities: tuple[float, float, float]
    resize_range: tuple[float, float]
    gaussian_noise_sigma: tuple[float, float]
    poisson_noise_scale: tuple[float, float]
    jpeg_quality: tuple[int, int]
    kernel_probabilities: tuple[tuple[KernelKind, float], ...] = (
        ("iso", 0.45),
        ("aniso", 0.25),
        ("generalized_iso", 0.12),
        ("generalized_aniso", 0.03),
        ("plateau_iso", 0.12),
        ("plateau_aniso", 0.03),
    )
    sinc_probability: float = 0.1
    generalized_beta: tuple[float, float] = (0.5, 4.0)
    plateau_beta: tuple[float, float] = (1.0, 2.0)
    gaussian_noise_probability: float = 0.5  # else Poisson
    gray_noise_probability: float = 0.4


@dataclass(frozen=True)
class RealESRGANDegradation:
    """All ranges of the pipeline; the defaults are Real-ESRGAN's x4plus training settings.
    The second round's ``jpeg_quality`` is the final JPEG's."""

    first: DegradationRound = field(
        default_factory=lambda: DegradationRound(
            blur_probability=1.0,
            blur_sigma=(0.2, 3.0),
            resize_probabilities=(0.2, 0.7, 0.1),
            resize_range=(0.15, 1.5),
            gaussian_noise_sigma=(1.0, 30.0),
            poisson_noise_scale=(0.05, 3.0),
            jpeg_quality=(30, 95),
        )
    )
    second: DegradationRound = field(
        default_factory=lambda: DegradationRound(
            blur_probability=0.8,
            blur_sigma=(0.2, 1.5),
            resize_probabilities=(0.3, 0.4, 0.3),
            resize_range=(0.3, 1.2),
            gaussian_noise_sigma=(1.0, 25.0),
            poisson_noise_scale=(0.05, 2.5),
            jpeg_quality=(30, 95),
        )
    )
    final_sinc_probability: float = 0.8


class _Random:
    """The few kinds of draw the pipeline needs, all from one seeded generator."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=self.generator))

    def chance(self, probability: float) -> bool:
        return float(torch.rand((), generator=self.generator)) < probability

    def index(self, count: int) -> int:
        return int(torch.randint(count, (), generator=self.generator))

    def weighted(self, weights: tuple[float, ...]) -> int:
        return int(torch.multinomial(torch.tensor(weights), 1, generator=self.generator))

    def normal(self, shape: tuple[int, ...]) -> Tensor:
        return torch.randn(shape, generator=self.generator)


def _grid(size: int) -> Tensor:
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    return torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1)


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, angle: float) -> Tensor:
    """``xᵀ Σ⁻¹ x`` over the kernel grid for a Gaussian with the given axes and rotation."""
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
    axes = torch.tensor([sigma_x**2, sigma_y**2], dtype=torch.float64)
    covariance = rotation @ torch.diag(axes) @ rotation.T
    grid = _grid(size)
    return ((grid @ torch.linalg.inv(covariance)) * grid).sum(dim=-1)


def _beta(random: _Random, beta_range: tuple[float, float]) -> float:
    """Below and above 1 equally often, as the reference draws it."""
    if random.chance(0.5):
        return random.uniform(beta_range[0], 1.0)
    return random.uniform(1.0, beta_range[1])


def _blur_kernel(random: _Random, settings: DegradationRound) -> Tensor:
    size = _KERNEL_SIZES[random.index(len(_KERNEL_SIZES))]
    if random.chance(settings.sinc_probability):
        cutoff = random.uniform(math.pi / 3 if size < 13 else math.pi / 5, math.pi)
        return _pad_kernel(_sinc_kernel(cutoff, size))
    kinds, weights = zip(*settings.kernel_probabilities, strict=True)
    kind = kinds[random.weighted(weights)]
    sigma_x = random.uniform(*settings.blur_sigma)
    if kind.endswith("aniso"):
        sigma_y = random.uniform(*settings.blur_sigma)
        angle = random.uniform(-math.pi, math.pi)
    else:
        sigma_y, angle = sigma_x, 0.0
    form = _quadratic_form(size, sigma_x, sigma_y, angle)
    if kind.startswith("generalized"):
        kernel = torch.exp(-0.5 * form ** _beta(random, settings.generalized_beta))
    elif kind.startswith("plateau"):
        kernel = 1.0 / (form ** _beta(random, settings.plateau_beta) + 1.0)
    else:
        kernel = torch.exp(-0.5 * form)
    return _pad_kernel(kernel / kernel.sum())


def _sinc_kernel(cutoff: float, size: int) -> Tensor:
    """A circular low-pass filter (2-D sinc, via the Bessel function J1): produces the
    ringing and overshoot that real resampling and sharpening leave."""
    radius = _grid(size).norm(dim=-1)
    kernel = cutoff * torch.special.bessel_j1(cutoff * radius) / (2 * math.pi * radius)
    centre = (size - 1) // 2
    kernel[centre, centre] = cutoff**2 / (4 * math.pi)
    return kernel / kernel.sum()


def _pad_kernel(kernel: Tensor) -> Tensor:
    pad = (_PADDED_KERNEL - kernel.shape[-1]) // 2
    return F.pad(kernel, (pad, pad, pad, pad)).float()


def _filter(image: Tensor, kernel: Tensor) -> Tensor:
    """OpenCV rather than a convolution layer: it switches to the FFT for large kernels,
    several times faster on the CPU where loader workers run this. Borders reflect without
    repeating the edge pixel (PyTorch's ``reflect``, as in the reference)."""
    pixels = image[0].permute(1, 2, 0).numpy()
    filtered = cv2.filter2D(pixels, -1, kernel.numpy(), borderType=cv2.BORDER_REFLECT_101)
    return torch.from_numpy(filtered.reshape(pixels.shape)).permute(2, 0, 1)[None]


def _resize(image: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    size = (max(1, size[0]), max(1, size[1]))
    if mode == "area":
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode=mode, align_corners=False)


def _gaussian_noise(random: _Random, image: Tensor, settings: DegradationRound) -> Tensor:
    sigma = random.uniform(*settings.gaussian_noise_sigma) / 255.0
    gray = random.chance(settings.gray_noise_probability)
    _, channels, height, width = image.shape
    noise = random.normal((1, 1 if gray else channels, height, width)) * sigma
    return image + noise.expand_as(image)


def _poisson_noise(random: _Random, image: Tensor, settings: DegradationRound) -> Tensor:
    """Shot noise whose strength follows brightness. The photon count per level is the next
    power of two above the number of distinct 8-bit levels present, as in the reference."""
    scale = random.uniform(*settings.poisson_noise_scale)
    gray = random.chance(settings.gray_noise_probability)
    source = rgb_to_grayscale(image) if gray else image
    source = (source.clamp(0, 1) * 255).round() / 255
    levels = 2 ** math.ceil(math.log2(max(2, len(torch.unique(source)))))
    noisy = torch.poisson(source * levels, generator=random.generator) / levels
    return image + ((noisy - source) * scale).expand_as(image)


def _jpeg(image: Tensor, quality: int) -> Tensor:
    pixels = (image[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    bgr = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to JPEG-encode a degraded sample")
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(decoded).permute(2, 0, 1)[None].float() / 255.0


def _random_jpeg(random: _Random, image: Tensor, settings: DegradationRound) -> Tensor:
    low, high = settings.jpeg_quality
    return _jpeg(image, round(random.uniform(low, high)))


def _degradation_round(
    random: _Random,
    image: Tensor,
    settings: DegradationRound,
    resize_base: tuple[int, int],
    jpeg: bool,
) -> Tensor:
    if random.chance(settings.blur_probability):
        image = _filter(image, _blur_kernel(random, settings))
    direction = ("up", "down", "keep")[random.weighted(settings.resize_probabilities)]
    low, high = settings.resize_range
    if direction == "up":
        factor = random.uniform(1.0, high)
    elif direction == "down":
        factor = random.uniform(low, 1.0)
    else:
        factor = 1.0
    mode = _RESIZE_MODES[random.index(len(_RESIZE_MODES))]
    size = (int(resize_base[0] * factor), int(resize_base[1] * factor))
    image = _resize(image, size, mode)
    if random.chance(settings.gaussian_noise_probability):
        image = _gaussian_noise(random, image, settings)
    else:
        image = _poisson_noise(random, image, settings)
    image = image.clamp(0, 1)
    return _random_jpeg(random, image, settings) if jpeg else image


def degrade(
    hr: Tensor,
    scale: int,
    generator: torch.Generator,
    settings: RealESRGANDegradation | None = None,
) -> Tensor:
    """A realistic LR version of a 3×H×W image in [0, 1]: 3×(H // scale)×(W // scale), in
    [0, 1] on 8-bit levels. Deterministic given the generator's state."""
    settings = settings or RealESRGANDegradation()
    random = _Random(generator)
    height, width = hr.shape[-2:]
    target = (height // scale, width // scale)
    image = hr[None].float()
    image = _degradation_round(random, image, settings.first, (height, width), jpeg=True)
    image = _degradation_round(random, image, settings.second, target, jpeg=False)

    final_mode = _RESIZE_MODES[random.index(len(_RESIZE_MODES))]
    if random.chance(settings.final_sinc_probability):
        size = _KERNEL_SIZES[random.index(len(_KERNEL_SIZES))]
        sinc = _pad_kernel(_sinc_kernel(random.uniform(math.pi / 3, math.pi), size))
    else:
        sinc = None

    def resize_and_sinc(image: Tensor) -> Tensor:
        image = _resize(image, target, final_mode)
        return image if sinc is None else _filter(image, sinc)

    if random.chance(0.5):
        image = _random_jpeg(random, resize_and_sinc(image), settings.second)
    else:
        image = resize_and_sinc(_random_jpeg(random, image, settings.second))
    return ((image.clamp(0, 1) * 255).round() / 255)[0]
