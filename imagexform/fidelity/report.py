"""``imagexform eval --metric fid,kid``: the command's side of the FID/KID evaluation.

Kept apart from the SR evaluation's table: the two measure different things (a distance
between image distributions, against per-image fidelity to a ground truth).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from imagexform.errors import UserError
from imagexform.fidelity.evaluation import FIDELITY_METRICS, FidelityEvaluation


def parse_metrics(text: str) -> tuple[str, ...]:
    """``fid,kid`` → ("fid", "kid"); an unknown name is a usage error naming it."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    known = (*FIDELITY_METRICS, "psnr", "ssim")
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise UserError(
            f"--metric: unknown metric {', '.join(unknown) or repr(text)}; choose from "
            f"{', '.join(known)}"
        )
    if any(n in FIDELITY_METRICS for n in names) and any(n not in FIDELITY_METRICS for n in names):
        raise UserError(
            "--metric: psnr/ssim compare with a ground truth, fid/kid with a set of real "
            "images; run them separately"
        )
    return names


def run_fidelity(
    model_path: Path,
    data: Path,
    *,
    metrics: tuple[str, ...],
    reference: Path | None,
    mode: str,
    feature_weights: Path | None,
    kid_subset_size: int,
    options: dict[str, Any],
    limit: int | None,
    as_json: bool,
) -> None:
    from imagexform.fidelity.evaluation import evaluate_fidelity
    from imagexform.fidelity.features import load_extractor

    device = options.get("device", "auto")
    extractor = load_extractor(mode, feature_weights, _torch_device(device))
    evaluation = evaluate_fidelity(
        model_path,
        data,
        extractor,
        reference=reference,
        metrics=metrics,
        kid_subset_size=kid_subset_size,
        limit=limit,
        options=options,
        on_note=None if as_json else lambda text: click.echo(f"note: {text}", err=True),
    )
    if as_json:
        click.echo(json.dumps(evaluation.to_dict(), indent=2, allow_nan=False))
    else:
        _print_table(evaluation, metrics)


def _torch_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _print_table(evaluation: FidelityEvaluation, metrics: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    mode = evaluation.results[0].scores.mode if evaluation.results else ""
    table = Table(title=f"FID/KID ({mode} mode, lower is better)")
    for column in ("model", "direction", "data", "reference", "images"):
        table.add_column(column)
    for metric in metrics:
        table.add_column(metric.upper(), justify="right")
    for result in evaluation.results:
        scores = result.scores
        values = {"fid": scores.fid, "kid": scores.kid}
        table.add_row(
            result.comparison.model.name,
            result.comparison.label or "-",
            str(result.comparison.data),
            str(result.comparison.reference),
            f"{scores.generated} vs {scores.reference}",
            *(f"{values[m]:.4f}" if values[m] is not None else "-" for m in metrics),
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
