"""Between image files and tensors: value range, channels, colour order, padding, alpha.

The model sees only colour. Alpha is set aside and resized to the output on its own, because
models are trained on opaque images and know nothing of transparency. Colour under fully
transparent pixels is arbitrary (usually black); a model mixes neighbouring pixels, so that
colour would bleed into visible edges as a dark fringe. We therefore replace it with the colour
of the nearest visible pixels before the model runs (see :func:`fill_transparent`).

We do not premultiply instead: that also hides the hidden colour, but it darkens every
semi-transparent pixel before the model sees it, which changes what style-transfer or
image-to-image models produce there, and un-premultiplying divides model output (noise
included) by small alphas. Filling keeps visible colour exactly as stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imagexform.family import IOSpec
from imagexform.io.images import to_float, to_gray, to_rgb

_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass(frozen=True)
class Prepared:
    """An image ready for the model, and what is needed to turn the output back into one."""

    pixels: np.ndarray  # H×W×C float32 in the model's value range and colour order
    alpha: np.ndarray | None  # H×W in the source dtype
    gray: bool  # the source had one colour channel
    dtype: np.dtype


def prepare(image: np.ndarray, io: IOSpec) -> Prepared:
    """Convert an H×W×C image as :func:`~imagexform.io.images.read_image` returns it."""
    if not isinstance(image, np.ndarray) or image.dtype not in _FULL_SCALE:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"expected a uint8 or uint16 image array, got {kind}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or not 1 <= image.shape[2] <= 4 or 0 in image.shape:
        raise ValueError(f"expected an H×W×C image with 1 to 4 channels, got shape {image.shape}")
    channels = image.shape[2]
    alpha = np.ascontiguousarray(image[:, :, -1]) if channels in (2, 4) else None
    colour = image[:, :, :1] if channels <= 2 else image[:, :, :3]
    colour = to_gray(colour) if io.channels == 1 else to_rgb(colour)
    pixels = to_float(colour, io.value_range)
    if io.color_order == "BGR" and io.channels == 3:
        pixels = np.ascontiguousarray(pixels[:, :, ::-1])
    if alpha is not None:
        pixels = fill_transparent(pixels, alpha > 0)
    return Prepared(pixels, alpha, channels <= 2, image.dtype)


def output_channels(prepared: Prepared, io: IOSpec) -> int:
    """Colour channels of the result. A gray image stays gray through a colour-to-colour
    model (fed three equal channels, converted back by luminance), as users expect of a
    file's kind; otherwise the result has the channels the model produces."""
    if prepared.gray and io.channels == 3 and io.out_channels == 3:
        return 1
    return io.out_channels


def finish(rows: np.ndarray, prepared: Prepared, io: IOSpec) -> np.ndarray:
    """Model output rows (H×W×C float, model range and colour order) as image samples.

    Works on any band of rows, so a tiled run can convert each finished strip as it goes and
    never hold the whole output in float32.
    """
    low, high = io.value_range
    values = rows.astype(np.float32, copy=True)
    if io.color_order == "BGR" and values.shape[2] == 3:
        values = values[:, :, ::-1]
    values -= np.float32(low)
    values *= np.float32(1.0 / (high - low))
    if output_channels(prepared, io) == 1 and values.shape[2] == 3:
        values = cv2.cvtColor(np.ascontiguousarray(values), cv2.COLOR_RGB2GRAY)[:, :, None]
    np.clip(values, 0.0, 1.0, out=values)
    values *= np.float32(_FULL_SCALE[prepared.dtype])
    return np.rint(values).astype(prepared.dtype)


def resize_alpha(alpha: np.ndarray, height: int, width: int) -> np.ndarray:
    """Alpha at the output size. Bicubic keeps cut-out edges smooth where nearest would be
    blocky; OpenCV saturates integer results, which clips the cubic overshoot."""
    if alpha.shape == (height, width):
        return alpha
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_CUBIC)


def fill_transparent(pixels: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Replace the colour of invisible pixels by that of the visible pixels around them.

    Pull-push on an image pyramid: each coarser level averages the visible colour of its
    block; holes then take the colour of the next coarser level on the way back up. Linear
    time, and any hole size is filled (a single visible pixel colours the whole image).
    """
    if visible.all() or not visible.any():
        return pixels
    levels = [(pixels * visible[:, :, None], visible.astype(np.float32))]
    while max(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        size = ((weight.shape[1] + 1) // 2, (weight.shape[0] + 1) // 2)
        levels.append(
            (_resize(colour, size, cv2.INTER_AREA), _resize(weight, size, cv2.INTER_AREA))
        )
    filled = None
    for colour, weight in reversed(levels):
        known = weight > 1e-6
        average = colour / np.where(known, weight, 1.0)[:, :, None]
        if filled is None:
            filled = average
        else:
            coarse = _resize(filled, (weight.shape[1], weight.shape[0]), cv2.INTER_LINEAR)
            filled = np.where(known[:, :, None], average, coarse)
    return np.where(visible[:, :, None], pixels, filled).astype(np.float32)


def _resize(array: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize that keeps a trailing channel axis of length 1 (OpenCV drops it)."""
    resized = cv2.resize(array, size, interpolation=interpolation)
    return resized.reshape(size[1], size[0], *array.shape[2:])


def pad_to(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad bottom and right to ``height``×``width`` by mirroring the image.

    Mirroring continues the image's texture, so the model sees no artificial edge that could
    ring back into the kept area. Unlike OpenCV's and torch's reflect padding, numpy's
    mirrors again when the pad is longer than the image (a 3-pixel row padded by 7 reads
    1 2 3 2 1 2 3 2 1 2) and repeats a single pixel, so tiny images need no special case.
    """
    pad_h, pad_w = height - pixels.shape[0], width - pixels.shape[1]
    if pad_h <= 0 and pad_w <= 0:
        return pixels
    widths = [(0, max(pad_h, 0)), (0, max(pad_w, 0))] + [(0, 0)] * (pixels.ndim - 2)
    return np.pad(pixels, widths, mode="reflect")
