"""FID or KID on the validation split while training (``eval_metric``).

Translation models have no per-pixel truth to converge to; the distance between the feature
statistics of their outputs and of real target images is how their papers compare
checkpoints. The real side of the validation split does not change during a run, so its
features are computed once; each measurement then costs the generated side only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from imagexform.errors import ConfigError
from imagexform.family import TrainConfig
from imagexform.fidelity import load_extractor, score_features
from imagexform.fidelity.scores import ImageStage

Pair = tuple[Tensor, Tensor] | None


def to_images(batch: Tensor, value_range: tuple[float, float]) -> list[np.ndarray]:
    """N×C×H×W in ``value_range`` → N H×W×C uint8 images."""
    low, high = value_range
    scaled = ((batch.detach().float().cpu() - low) / (high - low)).clamp(0, 1) * 255
    return list(scaled.round().to(torch.uint8).permute(0, 2, 3, 1).numpy())


class FidelityProbe:
    """Measures ``config.eval_metric`` and remembers the best value (lower is better)."""

    def __init__(self, config: TrainConfig, value_range: tuple[float, float], family: str):
        weights = Path(config.feature_weights) if config.feature_weights else None
        self.metric = config.eval_metric
        self.mode = config.fid_mode
        self.family = family
        self.value_range = value_range
        self.extractor = load_extractor(config.fid_mode, weights, _feature_device())
        self.reference: np.ndarray | None = None
        self.best: float | None = None

    @property
    def key(self) -> str:
        return f"val/{self.metric}"

    def measure(self, pairs: Iterable[Pair]) -> float:
        """The metric of the generated side of ``pairs`` against their real side."""
        with tempfile.TemporaryDirectory(prefix="imagexform-fid-") as folder:
            made = ImageStage(Path(folder) / "made")
            real = ImageStage(Path(folder) / "real")
            for pair in pairs:
                if pair is None:
                    raise ConfigError(
                        f"eval_metric {self.metric!r}: the {self.family} family does not give "
                        "images to compare with real ones; leave eval_metric empty"
                    )
                for image in to_images(pair[0], self.value_range):
                    made.add(image)
                if self.reference is None:
                    for image in to_images(pair[1], self.value_range):
                        real.add(image)
            if self.reference is None:
                self.reference = real.features(self.extractor, _quiet)
            generated = made.features(self.extractor, _quiet)
        scores = score_features(generated, self.reference, (self.metric,), self.mode)
        return float(scores.fid if self.metric == "fid" else scores.kid)

    def improved(self, value: float) -> bool:
        """Whether ``value`` beats every earlier measurement (and remember it if so)."""
        if self.best is not None and value >= self.best:
            return False
        self.best = value
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")


def _quiet(_: str) -> None:
    """Training measures one run against itself: the count warnings of ``eval`` do not
    apply, every measurement uses the same images."""


def _feature_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
