"""PSNR and SSIM: values worked out by hand on synthetic images, and agreement with
scikit-image's implementations under the settings SR papers use."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from imagexform.metrics import psnr, rgb_to_y, ssim

Y_GAIN = (65.481 + 128.553 + 24.966) / 255  # Y change per unit change of R = G = B


def scene(seed: int = 0, size: int = 48) -> np.ndarray:
    """A uint8 RGB picture with edges, gradients and some texture."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = np.linspace(20, 220, size, dtype=np.uint8)[None, :, None]
    for _ in range(5):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = tuple(int(c) for c in rng.integers(0, size, 2))
        cv2.circle(image, centre, int(rng.integers(3, size // 3)), colour, -1)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def degraded(image: np.ndarray, seed: int = 1) -> np.ndarray:
    blurred = cv2.GaussianBlur(image, (5, 5), 1.2)
    noise = np.random.default_rng(seed).normal(0, 4, image.shape)
    return np.clip(blurred + noise, 0, 255).astype(np.uint8)


# PSNR by hand


def test_psnr_of_a_constant_offset() -> None:
    a = np.random.default_rng(0).integers(10, 200, (16, 16, 3)).astype(np.uint8)
    b = a + np.uint8(5)
    expected = 10 * math.log10(255**2 / 25)  # MSE is exactly 25
    assert psnr(a, b) == pytest.approx(expected, abs=1e-12)
    assert psnr(a, b) == pytest.approx(34.1514035, abs=1e-6)


def test_the_dtype_decides_the_scale() -> None:
    a = np.random.default_rng(0).integers(10, 200, (16, 16, 3)).astype(np.uint8)
    b = a + np.uint8(5)
    expected = psnr(a, b)
    assert psnr(a / 255.0, b / 255.0) == pytest.approx(expected, abs=1e-9)
    assert psnr(a.astype(np.float32) / 255, b.astype(np.float32) / 255) == pytest.approx(
        expected, abs=1e-4
    )
    assert psnr(a.astype(np.uint16) * 257, b.astype(np.uint16) * 257) == pytest.approx(
        expected, abs=1e-9
    )
    assert ssim(a / 255.0, b / 255.0) == pytest.approx(ssim(a, b), abs=1e-12)


def test_identical_images() -> None:
    image = scene()
    assert psnr(image, image) == math.inf
    assert psnr(image, image, crop_border=4, y_channel=True) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert ssim(image, image, crop_border=4, y_channel=True) == pytest.approx(1.0, abs=1e-12)


def test_crop_border_ignores_differences_in_the_border() -> None:
    a = scene()
    b = a.copy()
    b[:3] = 0
    b[:, -3:] = 255
    assert psnr(a, b) < 20
    assert psnr(a, b, crop_border=3) == math.inf
    assert ssim(a, b, crop_border=3) == pytest.approx(1.0, abs=1e-12)
    b[3, 3] = a[3, 3] + 10 if a[3, 3, 0] < 200 else a[3, 3] - 10
    inner = 42 * 42 * 3  # pixels left after cropping 3 per side of 48, times channels
    assert psnr(a, b, crop_border=3) == pytest.approx(10 * math.log10(255**2 * inner / 300))


def test_luma_follows_bt601_as_matlab_computes_it() -> None:
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]])
    y = rgb_to_y(pixels.astype(np.uint8))
    assert y.shape == (1, 5, 1)
    np.testing.assert_allclose(y[0, :, 0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966])
    np.testing.assert_allclose(rgb_to_y(pixels / 255.0), y)


def test_psnr_on_y_of_a_gray_offset() -> None:
    # Adding d to R, G and B moves Y by d · 219 / 255.
    a = np.random.default_rng(2).integers(10, 200, (16, 16, 3)).astype(np.uint8)
    b = a + np.uint8(8)
    expected = 10 * math.log10(255**2 / (8 * Y_GAIN) ** 2)
    assert psnr(a, b, y_channel=True) == pytest.approx(expected, abs=1e-9)
    assert psnr(a, b, y_channel=True) > psnr(a, b)  # Y compresses the range to 16..235


def test_psnr_y_weighs_green_most() -> None:
    a = np.full((12, 12, 3), 100, np.uint8)
    greener, bluer = a.copy(), a.copy()
    greener[:, :, 1] += 10
    bluer[:, :, 2] += 10
    assert psnr(a, greener) == pytest.approx(psnr(a, bluer))
    assert psnr(a, greener, y_channel=True) < psnr(a, bluer, y_channel=True)
    expected = 10 * math.log10(255**2 / (10 * 128.553 / 255) ** 2)
    assert psnr(a, greener, y_channel=True) == pytest.approx(expected)


# SSIM by hand


def test_ssim_of_two_flat_images_is_the_luminance_term() -> None:
    # No variance anywhere: SSIM reduces to (2 μa μb + C1) / (μa² + μb² + C1) at every pixel.
    a = np.full((20, 20), 100, np.uint8)
    b = np.full((20, 20), 110, np.uint8)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_averages_the_channels() -> None:
    a, b = scene(3), degraded(scene(3))
    per_channel = [ssim(a[:, :, c], b[:, :, c]) for c in range(3)]
    assert ssim(a, b) == pytest.approx(np.mean(per_channel), abs=1e-12)
    assert len({round(value, 6) for value in per_channel}) == 3


def test_single_channel_images_are_left_alone_for_y() -> None:
    a, b = scene(4)[:, :, :1], degraded(scene(4))[:, :, :1]
    assert psnr(a, b, y_channel=True) == psnr(a, b)
    assert ssim(a, b, y_channel=True) == ssim(a, b)


# Against scikit-image


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_matches_scikit_image(seed: int) -> None:
    a, b = scene(seed), degraded(scene(seed), seed)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    ya, yb = rgb_to_y(a)[4:-4, 4:-4], rgb_to_y(b)[4:-4, 4:-4]
    reference = peak_signal_noise_ratio(ya, yb, data_range=255)
    assert psnr(a, b, crop_border=4, y_channel=True) == pytest.approx(reference, abs=1e-9)


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_scikit_image(seed: int) -> None:
    a, b = scene(seed), degraded(scene(seed), seed)
    reference = skimage_ssim(a.astype(np.float64), b.astype(np.float64))
    assert 0.3 < reference < 0.99  # a real difference, not a trivial case
    assert ssim(a, b) == pytest.approx(reference, abs=1e-6)
    ya, yb = rgb_to_y(a)[4:-4, 4:-4], rgb_to_y(b)[4:-4, 4:-4]
    assert ssim(a, b, crop_border=4, y_channel=True) == pytest.approx(
        skimage_ssim(ya, yb), abs=1e-6
    )


def test_ssim_matches_scikit_image_on_a_non_square_picture() -> None:
    a = np.concatenate([scene(5), scene(6)], axis=1)[:37]
    b = degraded(a, 5)
    reference = skimage_ssim(a.astype(np.float64), b.astype(np.float64))
    assert ssim(a, b) == pytest.approx(reference, abs=1e-6)


# Bad input


def test_bad_inputs() -> None:
    a = scene()
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:40])
    with pytest.raises(ValueError, match="crop_border 24 leaves nothing of a 48×48 image"):
        psnr(a, a, crop_border=24)
    with pytest.raises(ValueError, match="SSIM needs at least 11×11 pixels"):
        ssim(a[:14, :14], a[:14, :14], crop_border=2)
    with pytest.raises(ValueError, match=r"divide 0\.\.255 data by 255"):
        psnr(a.astype(np.float64), a.astype(np.float64))
    with pytest.raises(TypeError, match="int64"):
        psnr(a.astype(np.int64), a.astype(np.int64))
    with pytest.raises(ValueError, match="H×W×3"):
        rgb_to_y(a[:, :, :2])
