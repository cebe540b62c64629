"""Post-processing controls applied to a finished result, outside the model graph.

They belong here rather than in the network so one exported file serves every setting and the
editor can move a slider without re-running the model: ``strength`` mixes the output with the
input (resized to the output's size), ``preserve_color`` keeps the input's colours and takes
only the output's luminance (Gatys et al.'s colour-preserving transfer, done in YCrCb), and
``outscale`` resizes the result to that many times the input's size (Real-ESRGAN's
``--outscale``: a ×4 model's detail in a ×2 photo, sharper than a ×2 model's). Every
model accepts them; a model's metadata lists in ``io.adjustments`` the ones worth showing for
its family (style transfer shows both).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imagexform.errors import UserError
from imagexform.io.images import to_gray, to_rgb

STRENGTH = "strength"
PRESERVE_COLOR = "preserve_color"
NAMES = (STRENGTH, PRESERVE_COLOR)
MAX_OUTSCALE = 16.0


@dataclass(frozen=True)
class Adjustments:
    strength: float = 1.0  # 1 is the model's output, 0 the input
    preserve_color: bool = False
    outscale: float | None = None  # output size / input size; None keeps the model's scale

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise UserError(f"strength {self.strength:g}: expected a value from 0 to 1")
        if self.outscale is not None and not 0.0 < self.outscale <= MAX_OUTSCALE:
            raise UserError(
                f"outscale {self.outscale:g}: expected a value above 0 and at most {MAX_OUTSCALE:g}"
            )

    @property
    def is_identity(self) -> bool:
        return self.strength == 1.0 and not self.preserve_color and self.outscale is None


def apply(source: np.ndarray, result: np.ndarray, adjustments: Adjustments) -> np.ndarray:
    """``result`` adjusted towards ``source``; both H×W×C arrays of the same sample type as
    :meth:`RuntimeModel.transform` takes and returns, ``result`` possibly larger. Alpha (the
    last channel of 2- and 4-channel images) is the result's, untouched. A gray source under a
    colour result is blended as three equal channels, so ``preserve_color`` turns it gray."""
    if adjustments.is_identity:
        return result
    if adjustments.strength == 1.0 and not adjustments.preserve_color:
        return _resized(source, result, adjustments.outscale)
    result = result if result.ndim == 3 else result[:, :, None]
    source = source if source.ndim == 3 else source[:, :, None]
    colour = _colour_channels(result)
    base = to_rgb(source) if colour == 3 else to_gray(source)
    height, width = result.shape[:2]
    if base.shape[:2] != (height, width):
        base = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
        base = base.reshape(height, width, colour)
    full = 65535.0 if result.dtype == np.uint16 else 255.0
    output = result[:, :, :colour].astype(np.float32) / full
    original = base.astype(np.float32) / full
    if adjustments.preserve_color and colour == 3:
        output = _luminance_only(output, original)
    if adjustments.strength != 1.0:
        output = adjustments.strength * output + (1.0 - adjustments.strength) * original
    adjusted = result.copy()
    adjusted[:, :, :colour] = np.clip(np.rint(output * full), 0, full).astype(result.dtype)
    return _resized(source, adjusted, adjustments.outscale)


def _resized(source: np.ndarray, result: np.ndarray, outscale: float | None) -> np.ndarray:
    """``result`` at ``outscale`` times the source's size: area averaging to shrink (no
    aliasing), Lanczos to enlarge."""
    if outscale is None:
        return result
    height = max(round(source.shape[0] * outscale), 1)
    width = max(round(source.shape[1] * outscale), 1)
    if result.shape[:2] == (height, width):
        return result
    shrinking = height * width < result.shape[0] * result.shape[1]
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    resized = cv2.resize(result, (width, height), interpolation=method)
    return resized.reshape(height, width, *result.shape[2:])


def _colour_channels(image: np.ndarray) -> int:
    return 1 if image.shape[2] <= 2 else 3


def _luminance_only(output: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The output's Y with the original's Cr and Cb (float32 RGB in 0..1, so no rounding)."""
    styled = cv2.cvtColor(output, cv2.COLOR_RGB2YCrCb)
    kept = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
    kept[:, :, 0] = styled[:, :, 0]
    return cv2.cvtColor(kept, cv2.COLOR_YCrCb2RGB)
