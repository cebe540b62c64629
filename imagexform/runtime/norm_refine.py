"""Refining image-wide statistics over tiles, for images whose statistics pass does not fit.

The statistics pass of :mod:`imagexform.runtime.norm_stats` needs the whole image at once.
When that does not fit in memory it runs on a reduced copy, but a network is not scale
invariant: on the ResNet-9 generator, 512² statistics for a 1024² photo gave tiles 26 dB
from the untiled result. One refinement pass fixes most of that at the cost of about one
tiled run: every tile runs with the current statistics and answers with each
normalisation's input; summed over the tiles' cores (a partition of the image, each core at
least the receptive field from its tile's borders) they give every layer's mean and variance
over the whole image, computed with the earlier layers normalised by the current estimate.
The first layer is exact after one pass, the k-th after k; in practice the error shrinks
geometrically (``benchmarks/tiles_statistics.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np

from imagexform.runtime.norm_stats import ImageStatistics
from imagexform.runtime.tiling import Span, plan_axis

# A tile (H×W×C) -> everything the model is fed for it, and the padded (height, width).
TileFeeds = Callable[[np.ndarray], tuple[dict[str, np.ndarray], tuple[int, int]]]


def cores(spans: list[Span], length: int, multiple: int) -> list[Span]:
    """A partition of the padded axis, one part per span, switching half-way through each
    shared part, on multiples of ``multiple`` so every layer's resolution has whole pixels."""
    padded = math.ceil(length / multiple) * multiple
    cuts = [(b[0] + a[1]) // 2 // multiple * multiple for a, b in itertools.pairwise(spans)]
    bounds = [0, *cuts, padded]
    return list(itertools.pairwise(bounds))


def refine(
    graphs: ImageStatistics,
    pixels: np.ndarray,
    statistics: Mapping[str, np.ndarray],
    plan: tuple[tuple[int, int], int, int],
    tile_feeds: TileFeeds,
) -> dict[str, np.ndarray]:
    """One pass over ``pixels`` in the tiles of ``plan`` ((height, width), overlap, size
    multiple): new statistics for every normalisation, the current ones fed to them."""
    (tile_h, tile_w), overlap, multiple = plan
    height, width = pixels.shape[:2]
    ys, xs = (
        plan_axis(height, tile_h, overlap, multiple),
        plan_axis(width, tile_w, overlap, multiple),
    )
    sums: dict[str, np.ndarray] = {}
    squares: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for (y0, y1), (cy0, cy1) in zip(ys, cores(ys, height, multiple), strict=True):
        for (x0, x1), (cx0, cx1) in zip(xs, cores(xs, width, multiple), strict=True):
            feeds, (target_h, target_w) = tile_feeds(pixels[y0:y1, x0:x1])
            outputs = graphs.moments.run(graphs.sources, {**feeds, **statistics})
            for name, values in zip(graphs.sources, outputs, strict=True):
                fy, fx = values.shape[2] / target_h, values.shape[3] / target_w
                top, left = round((cy0 - y0) * fy), round((cx0 - x0) * fx)
                bottom, right = round((cy1 - y0) * fy), round((cx1 - x0) * fx)
                core = values[:, :, top:bottom, left:right].astype(np.float64)
                sums[name] = sums.get(name, 0.0) + core.sum(axis=(2, 3), keepdims=True)
                squares[name] = squares.get(name, 0.0) + np.square(core).sum(
                    axis=(2, 3), keepdims=True
                )
                counts[name] = counts.get(name, 0) + core.shape[2] * core.shape[3]
    result = {}
    for norm in graphs.norms:
        mean = sums[norm.source] / counts[norm.source]
        variance = np.maximum(squares[norm.source] / counts[norm.source] - mean * mean, 0.0)
        result[norm.mean] = mean.astype(np.float32)
        result[norm.var] = variance.astype(np.float32)
    return result
