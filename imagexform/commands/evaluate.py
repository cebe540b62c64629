"""The ``imagexform eval`` command: an SR model against bicubic on a folder of HR photos.

Kept out of ``cli.py`` so the CLI can register it with one ``add_command``; the work happens
in :mod:`imagexform.evaluate`, imported when the command runs, so start-up stays fast and
torch-free.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.table import Table

    from imagexform.evaluate import Evaluation


@click.command("eval")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder of high-resolution photos; the LR inputs are made from them.",
)
@click.option(
    "--scale",
    type=int,
    help="Upscaling factor. Default: the model's own (from its metadata).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--tile",
    "tile_size",
    type=click.IntRange(min=1),
    help="Run the model on tiles of N input pixels (less memory for large photos).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N photos.")
@click.option("-y", "--yes", is_flag=True, help="Download a catalog MODEL without asking.")
@click.option(
    "--metric",
    "metric_text",
    default="psnr,ssim",
    show_default=True,
    help="psnr,ssim: an upscaler against bicubic; fid,kid: the outputs' Inception feature "
    "statistics against --reference (translation, style and face models).",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="FID/KID: real images of the target domain. Default: --data's testB/ (or B/), or "
    "for a variant X2Y, testY/ (every sibling direction is scored too).",
)
@click.option(
    "--fid-mode",
    type=click.Choice(["clean", "legacy_pytorch"]),
    default="clean",
    show_default=True,
    help="clean-fid's mode; legacy_pytorch matches tables made with pytorch-fid.",
)
@click.option(
    "--feature-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Inception weights file, for machines without network (the error says which).",
)
@click.option(
    "--kid-subset-size",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Images per KID subset (fewer images than this: subsets of all of them).",
)
def eval_command(
    model_path: Path,
    data: Path,
    scale: int | None,
    as_json: bool,
    tile_size: int | None,
    device: str,
    limit: int | None,
    yes: bool,
    metric_text: str,
    reference: Path | None,
    fid_mode: str,
    feature_weights: Path | None,
    kid_subset_size: int,
) -> None:
    """Measure MODEL (an .onnx file or a catalog name). By default as SR papers do: PSNR/SSIM
    on Y (crop border = scale) and on RGB, for each photo in --data downscaled with MATLAB's
    bicubic, beside the bicubic baseline. With --metric fid,kid: FID and KID (clean-fid) of
    MODEL's outputs for --data against --reference."""
    from imagexform.catalog import resolve_model
    from imagexform.fidelity.report import parse_metrics, run_fidelity

    metrics = parse_metrics(metric_text)
    model_path = resolve_model(model_path, assume_yes=yes)
    if metrics[0] in ("fid", "kid"):
        run_fidelity(
            model_path,
            data,
            metrics=metrics,
            reference=reference,
            mode=fid_mode,
            feature_weights=feature_weights,
            kid_subset_size=kid_subset_size,
            options={"device": device, "tile_size": tile_size},
            limit=limit,
            as_json=as_json,
        )
    else:
        _evaluate_upscaler(model_path, data, scale, tile_size, device, limit, as_json)


def _evaluate_upscaler(
    model_path: Path,
    data: Path,
    scale: int | None,
    tile_size: int | None,
    device: str,
    limit: int | None,
    as_json: bool,
) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from imagexform.evaluate import evaluate_model

    errors = Console(stderr=True)
    with Progress(console=errors, transient=True, disable=not errors.is_terminal) as progress:
        task = progress.add_task("evaluating", total=None)

        def on_image(path: Path) -> None:
            progress.update(task, advance=1, description=path.name)

        evaluation = evaluate_model(
            model_path,
            data,
            scale=scale,
            tile_size=tile_size,
            device=device,
            limit=limit,
            on_image=on_image,
        )
    for path, problem in evaluation.skipped:
        click.echo(f"warning: {path}: {problem}; skipped", err=True)
    if as_json:
        click.echo(json.dumps(evaluation.to_dict(), indent=2, allow_nan=False))
        return
    console = Console()
    if not console.is_terminal:
        # Written to a file or a pipe: wide enough that no number wraps inside its cell.
        console = Console(width=200)
    console.print(results_table(evaluation))


def results_table(evaluation: Evaluation) -> Table:
    """One row per photo and a mean row: each metric for the model, for bicubic, and the gain."""
    from rich.table import Table

    model_name = evaluation.model_path.name if evaluation.model_path else "model"
    table = Table(
        title=f"{model_name} ×{evaluation.scale} vs bicubic on {evaluation.data}",
        caption=f"Y: BT.601 luma; {evaluation.crop_border} px cropped at each border",
    )
    table.add_column("image")
    table.add_column("size", justify="right")
    for metric in ("PSNR-Y", "SSIM-Y"):
        table.add_column(metric, justify="right")
        table.add_column("bicubic", justify="right")
        table.add_column("gain", justify="right")
    for metric in ("PSNR", "SSIM"):
        table.add_column(metric, justify="right")
        table.add_column("bicubic", justify="right")

    def cells(model: dict[str, float], bicubic: dict[str, float]) -> list[str]:
        return [
            _psnr(model["psnr_y"]),
            _psnr(bicubic["psnr_y"]),
            _signed(model["psnr_y"] - bicubic["psnr_y"], 2),
            f"{model['ssim_y']:.4f}",
            f"{bicubic['ssim_y']:.4f}",
            _signed(model["ssim_y"] - bicubic["ssim_y"], 4),
            _psnr(model["psnr_rgb"]),
            _psnr(bicubic["psnr_rgb"]),
            f"{model['ssim_rgb']:.4f}",
            f"{bicubic['ssim_rgb']:.4f}",
        ]

    for index, image in enumerate(evaluation.images):
        table.add_row(
            image.path.name,
            f"{image.width}×{image.height}",
            *cells(image.model, image.bicubic),
            end_section=index == len(evaluation.images) - 1,
        )
    model_mean, bicubic_mean = evaluation.mean()
    table.add_row(
        f"mean of {len(evaluation.images)}", "", *cells(model_mean, bicubic_mean), style="bold"
    )
    return table


def _psnr(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "inf"


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}" if math.isfinite(value) else "n/a"
