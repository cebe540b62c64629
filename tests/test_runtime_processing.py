"""Between images and tensors: value range, colour order, padding and cropping, bit depth,
gray images and alpha."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.family import IOSpec
from imagexform.io.images import to_gray
from imagexform.runtime import load_model
from imagexform.runtime.processing import fill_transparent, pad_to

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

RNG = np.random.default_rng(1)


def noise(height: int, width: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max + 1
    return RNG.integers(0, top, (height, width, channels), dtype=dtype)


def test_value_range_decides_what_the_model_sees(tmp_path):
    black = np.zeros((8, 8, 3), np.uint8)
    symmetric = load_model(om.absolute(tmp_path / "sym.onnx", (-1.0, 1.0)))
    assert (symmetric.transform(black) == 255).all()  # black is -1, |-1| is white
    unit = load_model(om.absolute(tmp_path / "unit.onnx", (0.0, 1.0)))
    assert (unit.transform(black) == 0).all()
    overridden = load_model(tmp_path / "sym.onnx", value_range=(0.0, 1.0))
    assert (overridden.transform(black) == 0).all()


def test_output_is_clamped_to_the_value_range(tmp_path):
    model = load_model(om.absolute(tmp_path / "sym.onnx", (-1.0, 1.0)), value_range=(-0.5, 0.5))
    dark = np.full((4, 4, 3), 10, np.uint8)  # -0.46: |x| is 0.46, nearly white
    assert (model.transform(dark) == 245).all()
    black = np.zeros((4, 4, 3), np.uint8)  # |-0.5| = 0.5: the top of the range exactly
    assert (model.transform(black) == 255).all()


@pytest.mark.parametrize(("order", "source"), [("RGB", 0), ("BGR", 2)])
def test_colour_order(tmp_path, order, source):
    model = load_model(om.first_channel(tmp_path / f"{order}.onnx", order))
    image = noise(5, 7)
    out = model.transform(image)
    for channel in range(3):
        assert np.array_equal(out[:, :, channel], image[:, :, source])


@pytest.mark.parametrize(("height", "width"), [(37, 53), (1, 1), (3, 5), (16, 9)])
def test_padding_to_the_size_multiple_is_cropped_back(tmp_path, height, width):
    model = load_model(om.needs_multiple(tmp_path / "m8.onnx", 8))
    image = noise(height, width)
    assert np.array_equal(model.transform(image), image)


def test_undeclared_size_multiple_fails_with_a_hint_and_the_override_fixes_it(tmp_path):
    path = om.needs_multiple(tmp_path / "m8.onnx", 8, declare=False)
    with pytest.raises(UserError, match=r"m8\.onnx: the model failed on a 53×37 .*multiple"):
        load_model(path).transform(noise(37, 53))
    image = noise(37, 53)
    assert np.array_equal(load_model(path, size_multiple=8).transform(image), image)


def test_scale_applies_to_odd_sizes(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x4.onnx", 4))
    image = noise(37, 53)
    out = model.transform(image)
    assert out.shape == (148, 212, 3)
    assert np.array_equal(out, image.repeat(4, 0).repeat(4, 1))


def test_sixteen_bit_images_keep_sixteen_bit_precision(tmp_path):
    model = load_model(om.identity(tmp_path / "m.onnx"))
    image = noise(17, 23, dtype=np.uint16)
    out = model.transform(image)
    assert out.dtype == np.uint16
    assert np.array_equal(out, image)
    assert np.count_nonzero(out % 257)  # not 8-bit values widened


def test_gray_in_gray_out_through_a_colour_model(tmp_path):
    model = load_model(om.identity(tmp_path / "m.onnx"))
    gray = noise(9, 11, channels=1)
    out = model.transform(gray)
    assert out.shape == (9, 11, 1)
    assert np.array_equal(out, gray)
    assert np.array_equal(model.transform(gray[:, :, 0]), gray)


def test_gray_alpha_keeps_both_channels(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x2.onnx", 2))
    image = noise(6, 8, channels=2)
    out = model.transform(image)
    assert out.shape == (12, 16, 2)
    assert np.array_equal(out[:, :, 0], image[:, :, 0].repeat(2, 0).repeat(2, 1))


def test_gray_model_on_a_colour_image_gives_gray(tmp_path):
    info = om.model_info(IOSpec(value_range=(0.0, 1.0), channels=1, out_channels=1))
    path = om.save(
        tmp_path / "gray.onnx",
        [om.helper.make_node("Identity", ["image"], ["output"])],
        info=info,
        inputs=[om.image_tensor("image", 1)],
        outputs=[om.image_tensor("output", 1)],
    )
    image = noise(5, 6)
    assert np.array_equal(load_model(path).transform(image), to_gray(image))


def test_rgba_alpha_is_resized_with_the_output(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x2.onnx", 2))
    image = noise(20, 30, channels=4)
    image[:, :, 3] = cv2.GaussianBlur(image[:, :, 3], (5, 5), 2)
    out = model.transform(image)
    assert out.shape == (40, 60, 4) and out.dtype == np.uint8
    expected_alpha = cv2.resize(image[:, :, 3], (60, 40), interpolation=cv2.INTER_CUBIC)
    assert np.array_equal(out[:, :, 3], expected_alpha)
    visible = (image[:, :, 3] > 0).repeat(2, 0).repeat(2, 1)
    colour = image[:, :, :3].repeat(2, 0).repeat(2, 1)
    assert np.array_equal(out[:, :, :3][visible], colour[visible])


def test_hidden_colour_does_not_fringe_visible_edges(tmp_path):
    """A red cut-out on transparent black: blurring must not darken its edge."""
    model = load_model(om.blur_stack(tmp_path / "blur.onnx", layers=1))
    image = np.zeros((16, 16, 4), np.uint8)
    image[:, :8] = (255, 0, 0, 255)
    out = model.transform(image)
    assert np.array_equal(out[:, :, 3], image[:, :, 3])
    edge = out[2:-2, 7, :3]  # the last visible column, away from the image border
    assert (edge[:, 0] == 255).all() and (edge[:, 1:] == 0).all()


def test_fill_transparent_takes_the_nearest_visible_colour():
    pixels = np.zeros((9, 9, 3), np.float32)
    pixels[:, :3] = (1.0, 0.5, 0.0)
    pixels[:, 6:] = (0.0, 0.0, 1.0)
    visible = np.zeros((9, 9), bool)
    visible[:, :3] = visible[:, 6:] = True
    filled = fill_transparent(pixels, visible)
    assert np.allclose(filled[:, 3], (1.0, 0.5, 0.0), atol=0.35)
    assert np.allclose(filled[:, 5], (0.0, 0.0, 1.0), atol=0.35)
    assert np.array_equal(filled[visible], pixels[visible])
    one = np.zeros((9, 9), bool)
    one[4, 7] = True
    assert np.allclose(fill_transparent(pixels + 0.25, one), 0.25 + pixels[4, 7])


def test_pad_to_mirrors_even_when_the_pad_is_longer_than_the_image():
    row = np.array([[[1.0], [2.0], [3.0]]], np.float32)
    assert pad_to(row, 1, 10)[0, :, 0].tolist() == [1, 2, 3, 2, 1, 2, 3, 2, 1, 2]
    assert pad_to(row[:, :1], 4, 4)[..., 0].tolist() == [[1.0] * 4] * 4


def test_images_that_are_not_images_are_rejected(tmp_path):
    model = load_model(om.identity(tmp_path / "m.onnx"))
    with pytest.raises(TypeError, match="uint8 or uint16"):
        model.transform(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="1 to 4 channels"):
        model.transform(np.zeros((4, 4, 5), np.uint8))
