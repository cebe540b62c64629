"""Running a model over an image in overlapping tiles and blending them without seams.

A tile's output is wrong near the tile's border, where the network saw padding instead of the
neighbouring pixels. So neighbouring tiles overlap and are cross-faded: in each overlap the
outer quarter on either side is dropped (it is the part nearest a tile border) and the middle
half is blended with linear ramps. Files that record their receptive field instead drop that
many pixels at each border and blend over a narrow ramp (``ramp``). Networks with image-wide
statistics (instance norm) would give each tile its own tone; the runtime feeds them the whole
image's statistics (:mod:`imagexform.runtime.norm_stats`).

The ramps of two neighbours sum to exactly one, so the weights form a partition of unity and no
normalisation pass, and no weight image, is needed.

Tiles are processed in rows. A row of tiles is blended into one strip of output rows; the part
of the strip that the next row of tiles overlaps is carried over, the rest is final and handed
to ``write`` at once. Memory is therefore one strip, not the whole output in float32.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Span = tuple[int, int]
Infer = Callable[[np.ndarray], np.ndarray]
Write = Callable[[int, int, np.ndarray], None]
Progress = Callable[[int, int], None]  # tiles done, tiles in all


@dataclass(frozen=True)
class Mode:
    """How a transform ran, for reports: how many tiles of what size, and where the image-wide
    statistics of its normalisation layers came from (empty when the model has none)."""

    tiles: int
    tile: tuple[int, int]  # (height, width) of each tile
    overlap: int
    statistics: str = ""

    def describe(self) -> str:
        if self.tiles == 1:
            return "untiled"
        text = f"tiled: {self.tiles} tiles of {self.tile[1]}×{self.tile[0]}, overlap {self.overlap}"
        return f"{text}, {self.statistics}" if self.statistics else text


def count_tiles(
    height: int, width: int, tile: tuple[int, int], overlap: int, align: int = 1
) -> int:
    ys, xs = plan_axis(height, tile[0], overlap, align), plan_axis(width, tile[1], overlap, align)
    return len(ys) * len(xs)


def plan_axis(length: int, tile: int, overlap: int, align: int = 1) -> list[Span]:
    """Spans of ``tile`` pixels covering ``length``, neighbours sharing at least about
    ``overlap``. The spans are spread evenly, so no tile is a thin sliver at the image's end,
    and every tile has the same size (a multiple of the model's size multiple when ``tile``
    is), so only images smaller than one tile need padding.

    With ``align`` > 1 every span starts at a multiple of it: a network that downsamples by
    4 sees a tile that starts 2 pixels off its grid as a different image (a StarGAN
    generator's tiles at such offsets matched nothing of its untiled output). The last span
    then may end at the image's end, short of a whole tile; padded to the size multiple as
    the untiled run pads the whole image, it sees the same pixels."""
    if length <= tile:
        return [(0, length)]
    if not 0 <= overlap <= tile - align:
        raise ValueError(
            f"overlap {overlap} must be less than the tile size {tile} by at least {align}"
        )
    last = math.ceil((length - tile) / align) * align
    count = math.ceil((length - overlap) / (tile - overlap))
    while True:
        starts = sorted({i * last // (count - 1) // align * align for i in range(count)})
        if all(b - a <= tile - overlap for a, b in itertools.pairwise(starts)):
            return [(start, min(start + tile, length)) for start in starts]
        count += 1


def fit_tile(length: int, tile: int, overlap: int, multiple: int = 1) -> int:
    """The smallest tile, a multiple of ``multiple`` and at most ``tile``, that covers
    ``length`` in as few tiles as ``tile`` itself would, with room for the blend ramps.

    A 275-pixel axis in 256-pixel tiles takes two tiles either way, but two 148-pixel tiles
    do half the work of two 256-pixel ones that overlap by 237 pixels. Every tile along the
    axis keeps one size, so ONNX Runtime still plans its memory once per image."""
    if length <= tile or overlap >= tile:
        return tile
    count = math.ceil((length - overlap) / (tile - overlap))
    fitted = max(math.ceil((length + (count - 1) * overlap) / count), 2 * overlap + 2)
    return min(math.ceil(fitted / multiple) * multiple, tile)


def axis_weights(
    spans: list[Span], scale: int, overlap: int, ramp: int | None = None
) -> list[np.ndarray]:
    """For each span, the blend weight of each of its output pixels along this axis.

    The ramp between two neighbours is centred in their shared part and ``ramp`` wide
    (``overlap / 2`` by default), so each tile's pixels within ``(overlap - ramp) / 2`` of
    its border are dropped; the weights of all spans at any output pixel sum to one.
    """
    width = overlap / 2 if ramp is None else min(ramp, overlap)
    centres = [(spans[i + 1][0] + spans[i][1]) / 2 for i in range(len(spans) - 1)]
    weights = []
    for index, (start, stop) in enumerate(spans):
        position = (np.arange(start * scale, stop * scale) + 0.5) / scale
        weight = np.ones(position.shape)
        if index > 0:
            weight *= _rise(position, centres[index - 1], width)
        if index < len(centres):
            weight *= 1.0 - _rise(position, centres[index], width)
        weights.append(weight.astype(np.float32))
    return weights


def _rise(position: np.ndarray, centre: float, width: float) -> np.ndarray:
    if width == 0:
        return (position >= centre).astype(np.float64)
    return np.clip((position - (centre - width / 2)) / width, 0.0, 1.0)


def run_tiled(
    pixels: np.ndarray,
    infer: Infer,
    write: Write,
    *,
    tile: tuple[int, int],
    overlap: int,
    scale: int,
    progress: Progress | None = None,
    ramp: int | None = None,
    align: int = 1,
) -> None:
    """Run ``infer`` (H×W×C in, (H·scale)×(W·scale)×C' out) over ``pixels`` in tiles of at
    most ``tile`` (height, width) and call ``write(first_row, end_row, rows)`` once for each
    band of finished output rows, top to bottom. ``progress(done, total)`` is called after
    each tile; whatever it raises stops the run there (a Cancel button). ``ramp`` is the
    blend's width (see :func:`axis_weights`); tiles start at multiples of
    ``align`` (see :func:`plan_axis`)."""
    height, width = pixels.shape[:2]
    ys = plan_axis(height, tile[0], overlap, align)
    xs = plan_axis(width, tile[1], overlap, align)
    total = len(ys) * len(xs)
    report = progress or (lambda done, total: None)
    if total == 1:
        write(0, height * scale, infer(pixels))
        report(1, 1)
        return
    y_weights = axis_weights(ys, scale, overlap, ramp)
    x_weights = axis_weights(xs, scale, overlap, ramp)
    carry: np.ndarray | None = None
    for row, (y0, y1) in enumerate(ys):
        strip: np.ndarray | None = None
        for column, (x0, x1) in enumerate(xs):
            out = infer(pixels[y0:y1, x0:x1])
            report(row * len(xs) + column + 1, total)
            if strip is None:
                strip = np.zeros(((y1 - y0) * scale, width * scale, out.shape[2]), np.float32)
            weight = y_weights[row][:, None] * x_weights[column][None, :]
            strip[:, x0 * scale : x1 * scale] += out * weight[:, :, None]
        assert strip is not None
        if carry is not None:
            strip[: len(carry)] += carry
        final = (ys[row + 1][0] if row + 1 < len(ys) else y1) - y0
        write(y0 * scale, (y0 + final) * scale, strip[: final * scale])
        carry = strip[final * scale :]
