"""Strength and preserve-colour, applied to finished results outside the model graph."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from onnx_models import model_info, upscaler

from imagexform.errors import UserError
from imagexform.family import IOSpec
from imagexform.runtime import Adjustments, load_model
from imagexform.runtime.adjustments import apply


def gradient(height: int = 16, width: int = 20, dtype=np.uint8) -> np.ndarray:
    full = np.iinfo(dtype).max
    image = np.zeros((height, width, 3), np.float64)
    image[..., 0] = np.linspace(0, 1, width)[None, :]
    image[..., 1] = np.linspace(0, 1, height)[:, None]
    image[..., 2] = 0.3
    return np.rint(image * full).astype(dtype)


def test_identity_returns_the_result_unchanged():
    result = gradient()[::-1].copy()
    assert apply(gradient(), result, Adjustments()) is result


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_strength_mixes_output_and_input(dtype):
    source, result = gradient(dtype=dtype), gradient(dtype=dtype)[::-1, ::-1].copy()
    mixed = apply(source, result, Adjustments(strength=0.3))
    assert mixed.dtype == dtype
    expected = 0.3 * result.astype(np.float64) + 0.7 * source
    assert np.abs(mixed - expected).max() <= 1
    assert np.array_equal(apply(source, result, Adjustments(strength=0.0)), source)


def test_strength_resizes_the_input_to_a_larger_result_and_keeps_the_result_alpha():
    source = np.dstack([gradient(), np.full((16, 20), 200, np.uint8)])
    result = np.zeros((32, 40, 4), np.uint8)
    result[..., 3] = 77
    mixed = apply(source, result, Adjustments(strength=0.5))
    assert mixed.shape == (32, 40, 4)
    assert (mixed[..., 3] == 77).all()
    upsized = cv2.resize(gradient(), (40, 32), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    assert np.abs(mixed[..., :3] - upsized / 2).max() <= 1


def test_preserve_color_keeps_input_chroma_and_output_luminance():
    source = gradient()
    result = np.full_like(source, 128)  # gray output: all luminance, no colour
    kept = apply(source, result, Adjustments(preserve_color=True))
    ycrcb = cv2.cvtColor(kept, cv2.COLOR_RGB2YCrCb).astype(np.int16)
    original = cv2.cvtColor(source, cv2.COLOR_RGB2YCrCb).astype(np.int16)
    # Up to clipping where Y 128 with the input's chroma falls outside RGB's gamut.
    assert np.median(np.abs(ycrcb[..., 0] - 128)) <= 1
    assert np.median(np.abs(ycrcb[..., 1:] - original[..., 1:])) <= 1
    assert not np.array_equal(kept, result)


def test_gray_results_blend_with_a_gray_input():
    source = cv2.cvtColor(gradient(), cv2.COLOR_RGB2GRAY)[:, :, None]
    result = np.full_like(source, 255)
    mixed = apply(gradient(), result, Adjustments(strength=0.5, preserve_color=True))
    assert mixed.shape == source.shape
    assert np.abs(mixed.astype(np.float64) - (source / 2 + 127.5)).max() <= 1


def test_strength_out_of_range_is_a_user_error():
    with pytest.raises(UserError, match=r"strength 1\.5: expected a value from 0 to 1"):
        Adjustments(strength=1.5)


def test_runtime_transform_applies_adjustments_after_the_model(tmp_path):
    path = upscaler(tmp_path / "x2.onnx", 2, model_info(IOSpec(scale=2)))
    model = load_model(path)
    image = gradient()
    plain = model.transform(image)
    mixed = model.transform(image, adjustments=Adjustments(strength=0.5))
    upsized = cv2.resize(image, (40, 32), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    assert np.abs(mixed - (plain / 2 + upsized / 2)).max() <= 1


def test_outscale_resizes_a_x4_result_to_the_asked_size_with_alpha(tmp_path):
    model = load_model(upscaler(tmp_path / "x4.onnx", 4))
    image = np.dstack([gradient(), np.full((16, 20), 200, np.uint8)])
    for outscale, size in ((2.0, (32, 40)), (1.5, (24, 30)), (4.0, (64, 80)), (6.0, (96, 120))):
        result = model.transform(image, adjustments=Adjustments(outscale=outscale))
        assert result.shape == (*size, 4) and result.dtype == np.uint8
        assert (result[:, :, 3] == 200).all()
    halved = model.transform(image, adjustments=Adjustments(outscale=2.0))
    expected = cv2.resize(model.transform(image), (40, 32), interpolation=cv2.INTER_AREA)
    assert np.array_equal(halved, expected)
    with pytest.raises(UserError, match="outscale 0"):
        Adjustments(outscale=0.0)
