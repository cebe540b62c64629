"""MATLAB's ``imresize`` with the bicubic kernel, in numpy.

Super-resolution papers make their low-resolution inputs, and measure their bicubic
baselines, with MATLAB's ``imresize``; a resize that differs even slightly (OpenCV's and
PyTorch's bicubic use the kernel parameter a = -0.75 and no antialiasing, PIL antialiases with
another support) shifts every PSNR in the table. This reproduces MATLAB's arithmetic:

* the Keys cubic kernel with a = -0.5;
* when shrinking, the kernel is stretched by 1/scale (and its height scaled by ``scale``), so
  each output pixel averages the input pixels it covers: MATLAB's antialiasing;
* pixel centres map so that the image edges line up: ``u = x / scale + 0.5 (1 - 1 / scale)``
  in 1-based coordinates;
* samples beyond the border are taken from the image mirrored with its edge pixel repeated
  (``[.. 2 1 | 1 2 3 .. n | n n-1 ..]``);
* the two axes are resized one after the other, the one with the smaller scale first;
* the output size for a scale factor is ``ceil(scale * size)``;
* integer images are computed in double precision, then rounded and clipped to their dtype.

Compared with ``cv2.resize(..., interpolation=cv2.INTER_CUBIC)`` when enlarging: the sample
positions are the same, but OpenCV's kernel (a = -0.75) overshoots more at edges and its border
replicates the edge pixel, so results differ by a few levels at sharp edges and agree exactly
on linear ramps away from the border (both kernels reproduce straight lines). When shrinking
the two have nothing in common: OpenCV does not antialias.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_KERNEL_WIDTH = 4.0  # the cubic kernel's support, in input pixels at scale 1

__all__ = ["imresize", "output_size"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


def _contributions(
    in_length: int, out_length: int, scale: float, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel, the input pixels (0-based, mirrored at the borders) and their
    weights, as MATLAB's ``contributions`` computes them: two ``out_length × taps`` arrays."""
    shrink_with_antialias = scale < 1 and antialias
    kernel_width = _KERNEL_WIDTH / scale if shrink_with_antialias else _KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * _cubic(distance * scale) if shrink_with_antialias else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    used = np.any(weights != 0, axis=0)
    weights, indices = weights[:, used], indices[:, used].astype(np.int64)
    mirrored = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    return weights, mirrored[(indices - 1) % (2 * in_length)]


def _resize_axis(
    image: np.ndarray, axis: int, out_length: int, scale: float, antialias: bool
) -> np.ndarray:
    weights, indices = _contributions(image.shape[axis], out_length, scale, antialias)
    # Weight ``tap`` of every output pixel, shaped to broadcast along ``axis``.
    shape = [1] * image.ndim
    shape[axis] = out_length
    result = np.take(image, indices[:, 0], axis=axis) * weights[:, 0].reshape(shape)
    for tap in range(1, weights.shape[1]):
        result += np.take(image, indices[:, tap], axis=axis) * weights[:, tap].reshape(shape)
    return result


def output_size(size: Sequence[int], scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ``ceil(scale * size)`` per axis. The product
    is rounded to 10 decimals first so that float noise (``0.1 * 30`` is
    ``3.0000000000000004``) does not add a pixel."""
    height, width = size[0], size[1]
    return (
        math.ceil(round(scale * height, 10)),
        math.ceil(round(scale * width, 10)),
    )


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    *,
    antialias: bool = True,
) -> np.ndarray:
    """Resize an H×W or H×W×C image like MATLAB's ``imresize(image, scale, 'bicubic')`` or
    ``imresize(image, [rows cols], 'bicubic')``; give exactly one of ``scale`` and
    ``output_shape`` (rows, columns).

    Float images keep their dtype and are not clipped (bicubic overshoots at edges, as in
    MATLAB); uint8 and uint16 images come back rounded and clipped in their own dtype.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if image.ndim not in (2, 3):
        raise ValueError(f"imresize expects an H×W or H×W×C image, got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.floating) or image.dtype in (np.uint8, np.uint16)):
        raise TypeError(f"imresize expects float, uint8 or uint16 pixels, got {image.dtype}")
    in_shape = image.shape[:2]
    if min(in_shape) < 1:
        raise ValueError(f"cannot resize an empty image of shape {image.shape}")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        out_shape = output_size(in_shape, scale)
        scales = (float(scale), float(scale))
    else:
        assert output_shape is not None
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        if min(out_shape) < 1:
            raise ValueError(f"output_shape must be positive, got {output_shape}")
        scales = (out_shape[0] / in_shape[0], out_shape[1] / in_shape[1])

    result = image.astype(np.float64)
    # MATLAB resizes the axis with the smaller scale first (rows first on a tie).
    for axis in sorted((0, 1), key=lambda axis: scales[axis]):
        if scales[axis] != 1:
            result = _resize_axis(result, axis, out_shape[axis], scales[axis], antialias)
    if np.issubdtype(image.dtype, np.integer):
        # floor(x + 0.5) is MATLAB's round (half away from zero) for every value that
        # survives the clip; numpy's round would send halves to even.
        limit = np.iinfo(image.dtype).max
        return np.clip(np.floor(result + 0.5), 0, limit).astype(image.dtype)
    return result.astype(image.dtype)
