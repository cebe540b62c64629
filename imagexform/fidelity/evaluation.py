"""Scoring a model file by FID/KID: run it over a folder, compare its outputs with a reference.

Which folders to compare follows the data layouts we train on. With ``--reference`` the
outputs for ``--data`` are compared with it. Without, ``--data`` is a dataset root: a model
exported as variant ``X2Y`` (and every sibling variant written beside it by ``--variant all``)
reads ``testX`` (or ``X``) and is compared with ``testY`` (or ``Y``); any other model reads
``testA``/``A`` and is compared with ``testB``/``B``, the target side.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagexform.errors import UserError
from imagexform.fidelity.features import FeatureExtractor
from imagexform.fidelity.scores import (
    KID_SUBSET_SIZE,
    ImageStage,
    Scores,
    Warn,
    reference_features,
    score_features,
)
from imagexform.io.images import ImageReadError, display_path, list_images, read_image

_DIRECTION = re.compile(r"^(\w+?)2(\w+)$")
FIDELITY_METRICS = ("fid", "kid")


@dataclass(frozen=True)
class Comparison:
    """One model file, the folder it transforms and the folder its outputs should resemble."""

    model: Path
    data: Path
    reference: Path
    label: str = ""


@dataclass
class FidelityResult:
    comparison: Comparison
    scores: Scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.comparison.model),
            "direction": self.comparison.label,
            "data": str(self.comparison.data),
            "reference": str(self.comparison.reference),
            **self.scores.to_dict(),
        }


@dataclass
class FidelityEvaluation:
    results: list[FidelityResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "notes": list(self.notes)}


def _domain(root: Path, letter: str) -> Path:
    for name in (f"test{letter}", letter):
        if (root / name).is_dir():
            return root / name
    raise UserError(
        f"{display_path(root)}: has no test{letter}/ or {letter}/ folder; give --reference "
        "DIR, or --data a folder holding both sides"
    )


def _variant(model: Path) -> str:
    from imagexform.runtime.modelfile import inspect_model

    info = inspect_model(model).info
    return info.variant if info is not None else ""


def comparisons(model: Path, data: Path, reference: Path | None) -> list[Comparison]:
    """What to score for ``model`` per the rules in this module's docstring."""
    if reference is not None:
        return [Comparison(model, data, reference)]
    variant = _variant(model)
    direction = _DIRECTION.match(variant)
    if direction is None:
        return [Comparison(model, _domain(data, "A"), _domain(data, "B"))]
    base = model.stem.removesuffix(f"-{variant}")
    found = []
    for sibling in sorted({model, *model.parent.glob(f"{base}-*.onnx")}):
        name = _variant(sibling)
        match = _DIRECTION.match(name)
        if match is not None and sibling.stem == f"{base}-{name}":
            source, target = match.groups()
            found.append(Comparison(sibling, _domain(data, source), _domain(data, target), name))
    return found


def _generated_features(
    comparison: Comparison,
    extractor: FeatureExtractor,
    options: dict[str, Any],
    warn: Warn,
    limit: int | None,
) -> np.ndarray:
    """Features of the model's outputs for every readable image of the data folder."""
    from imagexform.runtime import load_model

    files = list_images(comparison.data, recursive=True)[:limit]
    if not files:
        raise UserError(f"{display_path(comparison.data)}: holds no images to transform")
    model = load_model(comparison.model, device=options.get("device", "auto"))
    with tempfile.TemporaryDirectory(prefix="imagexform-fid-") as folder:
        stage = ImageStage(Path(folder))
        for path in files:
            try:
                image = read_image(path)
            except ImageReadError as exc:
                warn(f"{exc}; skipped")
                continue
            conditions = options.get("conditions")
            stage.add(model.transform(image, conditions, tile_size=options.get("tile_size")))
        return stage.features(extractor, warn)


def evaluate_fidelity(
    model: Path,
    data: Path,
    extractor: FeatureExtractor,
    *,
    reference: Path | None = None,
    metrics: tuple[str, ...] = FIDELITY_METRICS,
    kid_subset_size: int = KID_SUBSET_SIZE,
    limit: int | None = None,
    options: dict[str, Any] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> FidelityEvaluation:
    """Score ``model`` (and its direction siblings) against the reference folder(s).

    ``options`` are how the model runs: ``device``, ``tile_size`` and ``conditions``."""
    evaluation = FidelityEvaluation()

    def warn(text: str) -> None:
        if text not in evaluation.notes:  # a remark true of every direction is made once
            evaluation.notes.append(text)
            if on_note is not None:
                on_note(text)

    for comparison in comparisons(model, data, reference):
        real = reference_features(comparison.reference, extractor, warn)
        made = _generated_features(comparison, extractor, options or {}, warn, limit)
        scores = score_features(made, real, metrics, extractor.mode, kid_subset_size)
        for text in scores.warnings:
            warn(text)
        evaluation.results.append(FidelityResult(comparison, scores))
    return evaluation
