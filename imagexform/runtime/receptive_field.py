"""How far one input pixel reaches in a model's output: the margin a tile needs.

Tiles agree with the untiled result wherever the network saw the same pixels; a tile's output
is wrong within the network's reach of the tile's border. The theoretical receptive field of
a deep generator is hundreds of pixels, but most of it carries weights too small to change an
8-bit output. So we measure the *effective* receptive field on the exported network itself:
flip the centre pixel of a smooth test image to the other end of the value range and find the
farthest output pixel that moves by at least one output quantisation step (1/255 of the value
range). Image-wide statistics are held at the test image's own, so the flip's global effect
(which the runtime removes by tiling with whole-image statistics) does not count as reach.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from imagexform.runtime.model import RuntimeModel

START_EDGE = 128
MAX_EDGE = 1024
STEP = 1 / 255  # one 8-bit quantisation step, as a fraction of the value range


def measure_receptive_field(model: RuntimeModel) -> int:
    """The effective receptive field's radius in input pixels (see the module docstring),
    measured on test images that grow until the reach stays clear of their border; capped
    at half of :data:`MAX_EDGE`."""
    multiple = model.fixed_size[0] if model.fixed_size else model.info.io.size_multiple
    edge = math.ceil(max(START_EDGE, 2 * multiple) / multiple) * multiple
    while True:
        radius = _reach(model, edge)
        if radius < edge // 2 - 4 or edge >= MAX_EDGE or model.fixed_size:
            return min(radius, edge // 2)
        edge *= 2


def _reach(model: RuntimeModel, edge: int) -> int:
    io = model.info.io
    low, high = io.value_range
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(
        rng.uniform(0, 1, (edge, edge, io.channels)).astype(np.float32), (0, 0), 3
    )
    base = base.reshape(edge, edge, io.channels)
    base = (base - base.min()) / max(float(np.ptp(base)), 1e-6) * (high - low) + low
    flipped = base.copy()
    centre = edge // 2
    flipped[centre, centre] = np.where(base[centre, centre] < (low + high) / 2, high, low)
    batch = base.transpose(2, 0, 1)[None]
    statistics = model.image_statistics(batch) if model.tiles_with_statistics else None
    before = model.run(batch, statistics=statistics)[0]
    if before.shape[1:] != (edge * io.scale, edge * io.scale):
        return 0  # not an image at the input's scale: no tiles, no reach to measure
    after = model.run(flipped.transpose(2, 0, 1)[None], statistics=statistics)[0]
    moved = np.abs(after - before).max(axis=0) >= STEP * abs(high - low)
    if not moved.any():
        return 0
    rows, columns = np.nonzero(moved)
    scale = io.scale
    centre_out = (centre + 0.5) * scale
    farthest = max(np.abs(rows + 0.5 - centre_out).max(), np.abs(columns + 0.5 - centre_out).max())
    return math.ceil(farthest / scale)
