"""Temporal smoothing for video (``--temporal-smoothing``): less flicker from models that
treat every frame on its own, such as style transfer and CycleGAN.

Each output pixel is mixed with the previous smoothed output where the input did not change
there, an exponential moving average gated per pixel by how much the input moved, so still
areas stop shimmering while moving ones are left sharp (no ghost trails). It costs one
previous input and output frame of memory and a few array operations per output pixel;
it does no motion compensation, so texture on slowly moving surfaces is softened a little.
"""

from __future__ import annotations

import cv2
import numpy as np

# Input change (0–255 scale, mean over channels) at which a pixel keeps ~37% of the history.
MOTION_SCALE = 12.0


class TemporalSmoother:
    """Call once per frame, in order, with the frame and the model's result for it."""

    def __init__(self, amount: float) -> None:
        if not 0.0 <= amount < 1.0:
            raise ValueError(f"temporal smoothing {amount:g}: expected 0 ≤ amount < 1")
        self.amount = amount
        self.previous_input: np.ndarray | None = None
        self.previous_output: np.ndarray | None = None

    def __call__(self, source: np.ndarray, result: np.ndarray) -> np.ndarray:
        current = source.astype(np.float32)
        output = result.astype(np.float32)
        if (
            self.amount > 0
            and self.previous_input is not None
            and self.previous_output is not None
            and self.previous_output.shape == output.shape
        ):
            weight = self._history_weight(current, self.previous_input, output.shape)
            output = output + weight * (self.previous_output - output)
        self.previous_input, self.previous_output = current, output
        if np.issubdtype(result.dtype, np.integer):
            limit = np.iinfo(result.dtype).max
            return np.clip(np.rint(output), 0, limit).astype(result.dtype)
        return output.astype(result.dtype)

    def _history_weight(
        self, current: np.ndarray, previous: np.ndarray, shape: tuple[int, ...]
    ) -> np.ndarray:
        """Per output pixel: ``amount`` where the input is still, falling to 0 as it moves."""
        change = np.abs(current - previous)
        change = change.mean(axis=2) if change.ndim == 3 else change
        weight = self.amount * np.exp(-((change / MOTION_SCALE) ** 2))
        if weight.shape != shape[:2]:
            weight = cv2.resize(weight, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        return weight[:, :, None] if len(shape) == 3 else weight
