"""The gate every export passes: onnxruntime must reproduce torch on the written file.

The exporter can silently bake a shape, a branch or a Python-side value into the graph; the
only reliable check is to run the file at sizes other than the one it was traced at (a
different height and width, a non-square one, batch 1 and 2) and compare with torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from imagexform.export.errors import ExportError
from imagexform.modelinfo import IMAGE_INPUT, OUTPUT, ModelInfo

Size = tuple[int, int, int]  # batch, height, width of the image input
MIN_EDGE = 32  # smallest edge used for tracing and checks: room for padding layers and norms


@dataclass(frozen=True)
class ParityResult:
    """The largest difference between onnxruntime and torch at one input size."""

    batch: int
    channels: int
    height: int
    width: int
    max_abs: float

    @property
    def label(self) -> str:
        return f"{self.batch}×{self.channels}×{self.height}×{self.width}"


def base_edge(multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is at least :data:`MIN_EDGE`."""
    return multiple * math.ceil(MIN_EDGE / multiple)


def default_check_sizes(multiple: int) -> list[Size]:
    """Sizes that expose a graph traced with a fixed batch, height or width, or with height and
    width swapped: two heights, two widths, non-square both ways, batch 1 and 2. Both differ
    from the traced size (see :mod:`imagexform.export.onnx_export`), and they stay small, as a
    U-Net's multiple (256) makes every check at least 256×512."""
    base = base_edge(multiple)
    return [(1, base, 2 * base), (2, 2 * base, base)]


def example_inputs(info: ModelInfo, size: Size, generator: torch.Generator) -> tuple[Tensor, ...]:
    """Random float32 inputs spread over the ranges the runtime will feed: the image in its
    value range, each condition in its own."""
    batch, height, width = size
    low, high = info.io.value_range
    image = low + (high - low) * torch.rand(
        batch, info.io.channels, height, width, generator=generator
    )
    conditions = []
    for condition in info.io.conditions:
        c_low, c_high = condition.value_range
        values = torch.rand(batch, len(condition.labels), generator=generator)
        conditions.append(c_low + (c_high - c_low) * values)
    return (image, *conditions)


def input_names(info: ModelInfo) -> list[str]:
    return [IMAGE_INPUT, *(condition.name for condition in info.io.conditions)]


def check_parity(
    path: Path,
    reference: nn.Module,
    info: ModelInfo,
    sizes: list[Size],
    tolerance: float,
    seed: int = 0,
) -> list[ParityResult]:
    """Run ``path`` in onnxruntime (CPU) and ``reference`` in torch on the same random inputs.

    Raises :class:`ExportError` naming the size when onnxruntime cannot run the file there
    (typically a dimension the exporter fixed) or when the largest absolute difference exceeds
    ``tolerance``; NaN or infinite output counts as an unbounded difference. ``tolerance`` is
    for the usual [-1, 1] or [0, 1] ranges and grows with wider ones: a model that works in
    0..255 (fast neural style) is held to the same relative precision, not a 255× stricter one.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = input_names(info)
    generator = torch.Generator().manual_seed(seed)
    low, high = info.io.value_range
    tolerance *= max(1.0, (high - low) / 2)
    results = []
    for size in sizes:
        inputs = example_inputs(info, size, generator)
        label = "×".join(str(d) for d in (size[0], info.io.channels, *size[1:]))
        with torch.inference_mode():
            expected = reference(*inputs).float().numpy()
        feeds = {name: tensor.numpy() for name, tensor in zip(names, inputs, strict=True)}
        try:
            (actual,) = session.run([OUTPUT], feeds)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(
                f"{info.title or info.family}: onnxruntime cannot run the exported model at "
                f"input {label} ({first})"
            ) from None
        if actual.shape != expected.shape:
            raise ExportError(
                f"{info.title or info.family}: at input {label} onnxruntime returns shape "
                f"{actual.shape}, torch {expected.shape}"
            )
        difference = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        max_abs = float(difference.max()) if np.isfinite(difference).all() else math.inf
        if not max_abs <= tolerance:
            raise ExportError(
                f"{info.title or info.family}: parity check failed at input {label}: "
                f"onnxruntime and torch differ by up to {max_abs:.3g}, tolerance {tolerance:g}"
            )
        results.append(ParityResult(size[0], info.io.channels, size[1], size[2], max_abs))
    return results
