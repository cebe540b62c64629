"""MATLAB-compatible bicubic resize: values worked out by hand from MATLAB's algorithm (Keys
kernel a = -0.5, antialiasing by kernel stretching, mirrored borders) and its properties."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from imagexform.imaging import imresize
from imagexform.imaging.resize import output_size

# MATLAB's kernel for halving: cubic(d / 2) / 2 at distances ±0.5, ±1.5, ±2.5, ±3.5.
HALVING_TAPS = np.array(
    [
        -0.01171875,
        -0.03515625,
        0.11328125,
        0.43359375,
        0.43359375,
        0.11328125,
        -0.03515625,
        -0.01171875,
    ]
)
# Doubling, even outputs: cubic at distances 1.75, 0.75, -0.25, -1.25 (odd outputs: reversed).
DOUBLING_TAPS = np.array([-0.0234375, 0.2265625, 0.8671875, -0.0703125])


def smooth_photo(height: int = 40, width: int = 48, seed: int = 0) -> np.ndarray:
    """Float RGB in [0, 1] with gradients and soft blobs: no edges sharper than a few pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for _ in range(3):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * rng.uniform(6, 12) ** 2))
        channels.append(0.2 + 0.3 * x / width + 0.4 * blob)
    return np.stack(channels, axis=-1)


def test_halving_a_row_gives_matlabs_numbers() -> None:
    # imresize([1 2 3 4], 0.5) in MATLAB; worked out from the mirrored row 3 2 1 | 1 2 3 4 | 4 3.
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(imresize(row, output_shape=(1, 2)), [[1.4609375, 3.5390625]])
    square = np.repeat(row, 4, axis=0)
    np.testing.assert_allclose(imresize(square, 0.5), [[1.4609375, 3.5390625]] * 2)
    np.testing.assert_allclose(imresize(square.T, 0.5), [[1.4609375] * 2, [3.5390625] * 2])


def test_halving_uses_the_stretched_antialiasing_kernel() -> None:
    signal = np.random.default_rng(1).uniform(0, 1, 40)
    halved = imresize(np.tile(signal, (3, 1)), output_shape=(3, 20))[0]
    mirrored = np.concatenate([signal[3::-1], signal, signal[:-5:-1]])  # 4 mirrored each side
    for out in range(20):
        # Output pixel ``out`` is centred between inputs 2·out and 2·out + 1.
        window = mirrored[2 * out + 1 : 2 * out + 9]
        assert halved[out] == pytest.approx(window @ HALVING_TAPS, abs=1e-12)


def test_doubling_uses_keys_kernel_and_mirrored_borders() -> None:
    signal = np.random.default_rng(2).uniform(0, 1, 12)
    doubled = imresize(signal[None, :], output_shape=(1, 24))[0]
    mirrored = np.concatenate([signal[1::-1], signal, signal[:-3:-1]])  # 2 mirrored each side
    for k in range(12):
        even = mirrored[k : k + 4] @ DOUBLING_TAPS
        odd = mirrored[k + 1 : k + 5] @ DOUBLING_TAPS[::-1]
        assert doubled[2 * k] == pytest.approx(even, abs=1e-12)
        assert doubled[2 * k + 1] == pytest.approx(odd, abs=1e-12)
    # The first output written out: the border repeats x0 before mirroring x1.
    x0, x1 = signal[:2]
    first = -0.0234375 * x1 + 0.2265625 * x0 + 0.8671875 * x0 - 0.0703125 * x1
    assert doubled[0] == pytest.approx(first, abs=1e-12)


@pytest.mark.parametrize(
    ("scale", "shape"),
    [(0.5, None), (0.25, None), (1 / 3, None), (0.7, None), (2, None), (3, None), (None, (17, 61))],
)
def test_a_constant_image_stays_constant(scale: float | None, shape: tuple[int, int]) -> None:
    image = np.full((24, 30, 3), 0.375)
    resized = imresize(image, scale, shape)
    np.testing.assert_allclose(resized, 0.375, atol=1e-12)
    pixels = np.full((24, 30, 3), 77, np.uint8)
    assert np.all(imresize(pixels, scale, shape) == 77)


def test_output_size_is_matlabs_ceiling() -> None:
    assert imresize(np.zeros((10, 12)), 1 / 3).shape == (4, 4)
    assert imresize(np.zeros((8, 12, 3)), 0.25).shape == (2, 3, 3)
    assert imresize(np.zeros((5, 7, 2)), 2.5).shape == (13, 18, 2)
    assert imresize(np.zeros((6, 9)), output_shape=(4, 20)).shape == (4, 20)
    assert output_size((30, 30), 0.1) == (3, 3)  # 0.1 * 30 is 3.0000000000000004 in floats


def test_downscaling_by_the_exact_factor_then_shape() -> None:
    image = smooth_photo(64, 48)
    assert imresize(image, 0.25).shape == (16, 12, 3)
    np.testing.assert_allclose(imresize(image, 0.25), imresize(image, output_shape=(16, 12)))


def keys(distance: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel for any ``a`` (MATLAB: -0.5, OpenCV: -0.75)."""
    d = np.abs(distance)
    near = ((a + 2) * d**3 - (a + 3) * d**2 + 1) * (d <= 1)
    far = (a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a) * ((d > 1) & (d < 2))
    return near + far


def enlarge_interior(signal: np.ndarray, factor: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    """The enlarged samples whose four taps lie inside ``signal``, and their positions in the
    output. Output o samples input position (o + 0.5) / factor - 0.5, the pixel-centre
    alignment both MATLAB and OpenCV use."""
    values, outputs = [], []
    for out in range(len(signal) * factor):
        position = (out + 0.5) / factor - 0.5
        taps = np.floor(position) + np.arange(-1, 3)
        if taps[0] >= 0 and taps[-1] < len(signal):
            values.append(keys(position - taps, a) @ signal[taps.astype(int)])
            outputs.append(out)
    return np.array(values), np.array(outputs)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_enlarging_agrees_with_opencv_up_to_the_kernel_parameter(factor: int) -> None:
    # Same sample positions, different kernels: ours is the a = -0.5 interpolation, OpenCV's
    # INTER_CUBIC the a = -0.75 one, at every position away from the (differently handled)
    # borders.
    signal = np.random.default_rng(factor).uniform(0, 1, 16).astype(np.float32)
    rows = np.tile(signal, (3, 1))
    ours = imresize(rows, output_shape=(3, 16 * factor))[1]
    theirs = cv2.resize(rows, (16 * factor, 3), interpolation=cv2.INTER_CUBIC)[1]
    matlab, where = enlarge_interior(signal.astype(np.float64), factor, -0.5)
    opencv, _ = enlarge_interior(signal.astype(np.float64), factor, -0.75)
    np.testing.assert_allclose(ours[where], matlab, atol=1e-6)
    np.testing.assert_allclose(theirs[where], opencv, atol=1e-5)
    assert np.abs(matlab - opencv).max() > 1e-3  # the kernels really differ on this signal


def test_a_linear_ramp_is_reproduced_exactly_inside_the_border() -> None:
    # a = -0.5 is the one Keys kernel that reproduces straight lines (OpenCV's does not).
    y, x = np.mgrid[0:20, 0:24].astype(np.float64)
    ramp = np.stack([0.01 * x + 0.02 * y, 0.03 * x, 0.5 - 0.01 * y], axis=-1)
    enlarged = imresize(ramp, 3)
    y3, x3 = (np.mgrid[0:60, 0:72] + 0.5) / 3 - 0.5
    expected = np.stack([0.01 * x3 + 0.02 * y3, 0.03 * x3, 0.5 - 0.01 * y3], axis=-1)
    np.testing.assert_allclose(enlarged[6:-6, 6:-6], expected[6:-6, 6:-6], atol=1e-12)


def onnx_resize(image: np.ndarray, factor: float, antialias: bool) -> np.ndarray:
    """ONNX Runtime's Resize with MATLAB's settings: an independent implementation."""
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, factor, factor])
    node = helper.make_node(
        "Resize",
        ["x", "", "scales"],
        ["y"],
        mode="cubic",
        cubic_coeff_a=-0.5,
        coordinate_transformation_mode="half_pixel",
        antialias=int(antialias),
    )
    graph = helper.make_graph(
        [node],
        "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": image[None, None].astype(np.float32)})[0][0, 0]


@pytest.mark.parametrize("factor", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4])
def test_matches_onnx_runtime_cubic_resize_inside_the_border(factor: float) -> None:
    # ONNX's Resize (a = -0.5, half-pixel centres, antialias by stretching the kernel) is the
    # same arithmetic except at the border, where it clamps instead of mirroring.
    image = np.random.default_rng(7).uniform(0, 1, (48, 48))
    ours = imresize(image, factor)
    theirs = onnx_resize(image, factor, antialias=factor < 1)
    assert ours.shape == theirs.shape
    margin = 3 * max(1, round(factor))
    np.testing.assert_allclose(
        ours[margin:-margin, margin:-margin], theirs[margin:-margin, margin:-margin], atol=1e-5
    )
    assert np.abs(ours - theirs).max() > 1e-3  # the borders really are handled differently


def test_opencv_differs_on_real_detail_because_of_its_kernel() -> None:
    # OpenCV's a = -0.75 overshoots more: close on a smooth picture, clearly not the same.
    image = smooth_photo().astype(np.float32)
    image[10:20, 10:30] = 0.9  # a sharp-edged rectangle
    ours = imresize(image, 2)[4:-4, 4:-4]
    theirs = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)[4:-4, 4:-4]
    difference = np.abs(ours - theirs)
    assert difference.mean() < 0.01
    assert difference.max() > 0.01
    assert theirs.max() > ours.max()  # the stronger overshoot at the rectangle's edge


def test_downscaling_antialiases_where_opencv_cubic_aliases() -> None:
    # A one-pixel checkerboard is pure detail above the new Nyquist limit: averaged away by an
    # antialiased resize, kept at full contrast by plain cubic sampling.
    # At a third, every output sample lands on an input pixel centre.
    checker = (np.indices((33, 33)).sum(axis=0) % 2).astype(np.float64)
    shrunk = imresize(checker, 1 / 3)
    np.testing.assert_allclose(shrunk[2:-2, 2:-2], 0.5, atol=1e-3)
    aliased = cv2.resize(checker, (11, 11), interpolation=cv2.INTER_CUBIC)
    assert np.ptp(aliased) == 1.0


def test_integer_images_are_rounded_and_clipped_like_matlab() -> None:
    step = np.zeros((8, 8, 3), np.uint8)
    step[:, 4:] = 250
    resized = imresize(step, 2)
    assert resized.dtype == np.uint8
    as_float = imresize(step.astype(np.float64), 2)
    assert as_float.max() > 255 and as_float.min() < 0  # bicubic overshoot at the edge
    np.testing.assert_array_equal(resized, np.clip(np.floor(as_float + 0.5), 0, 255))
    deep = step.astype(np.uint16) * 257
    assert imresize(deep, 0.5).dtype == np.uint16
    np.testing.assert_array_equal(imresize(deep, 0.5)[:, 0], 0)


def test_float_dtype_is_kept_and_two_dimensional_images_work() -> None:
    image = smooth_photo().astype(np.float32)
    assert imresize(image, 0.5).dtype == np.float32
    gray = image[:, :, 0]
    np.testing.assert_allclose(imresize(gray, 0.5), imresize(image, 0.5)[:, :, 0], atol=1e-6)


def test_bad_arguments() -> None:
    image = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="exactly one of scale and output_shape"):
        imresize(image)
    with pytest.raises(ValueError, match="exactly one of scale and output_shape"):
        imresize(image, 2, (4, 4))
    with pytest.raises(ValueError, match="scale must be positive"):
        imresize(image, 0)
    assert imresize(image, 0.01).shape == (1, 1, 3)  # MATLAB's ceiling keeps one pixel
    with pytest.raises(TypeError, match="int32"):
        imresize(image.astype(np.int32), 2)
    with pytest.raises(ValueError, match="H×W or H×W×C"):
        imresize(np.zeros((2, 8, 8, 3)), 2)
