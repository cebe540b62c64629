"""The ``imagexform prepare`` commands; each imports its worker only when it runs."""

from __future__ import annotations

from pathlib import Path

import click

from imagexform.errors import UserError

_FOLDER = click.Path(path_type=Path)
# as imagexform.prepare.resize.resized takes them; spelled out so --help needs no OpenCV
_RESIZE_MODES = ("crop", "fit", "stretch")


@click.group("prepare")
def prepare_group() -> None:
    """Prepare datasets: pair, split, resize, draw edges. Inputs are never modified."""


@prepare_group.command("pairs")
@click.argument("source", type=_FOLDER)
@click.argument("output", type=_FOLDER)
@click.option(
    "--split",
    "split_back",
    is_flag=True,
    help="Cut A|B images in SOURCE back into OUTPUT/A and OUTPUT/B instead.",
)
def pairs_command(source: Path, output: Path, split_back: bool) -> None:
    """Combine SOURCE/A and SOURCE/B (matching file names) into A|B images in OUTPUT, the
    layout pix2pix trains on. Names found on one side only are listed and left out."""
    from imagexform.prepare import pairs
    from imagexform.prepare.walk import check_folders

    check_folders(source, output)
    if split_back:
        pairs.split(source, output).report(output)
        return
    for side in ("A", "B"):
        if not (source / side).is_dir():
            raise UserError(
                f"{source / side}: folder does not exist; expected SOURCE/A and SOURCE/B"
            )
    outcome, unmatched = pairs.combine(source / "A", source / "B", output)
    for name in unmatched:
        click.echo(f"unmatched {name}: no file of the same name on the other side", err=True)
    outcome.report(output)


@prepare_group.command("edges")
@click.argument("source", type=_FOLDER)
@click.argument("output", type=_FOLDER)
@click.option(
    "--sigma",
    type=click.FloatRange(0, 1),
    default=0.33,
    show_default=True,
    help="Threshold spread around the median brightness: higher draws more edges.",
)
@click.option(
    "--blur",
    type=click.IntRange(0, 31),
    default=3,
    show_default=True,
    help="Gaussian blur before edge detection: higher draws fewer texture edges.",
)
@click.option(
    "--pair/--no-pair",
    default=False,
    show_default=True,
    help="Write edges|photo side by side, ready for pix2pix.",
)
def edges_command(source: Path, output: Path, sigma: float, blur: int, pair: bool) -> None:
    """Draw the edges of every photo in SOURCE (black on white) into OUTPUT."""
    from imagexform.prepare.edges import edges
    from imagexform.prepare.walk import check_folders

    check_folders(source, output)
    edges(source, output, sigma, blur, pair).report(output)


@prepare_group.command("split")
@click.argument("source", type=_FOLDER)
@click.argument("output", type=_FOLDER)
@click.option(
    "--ratios", default="0.8,0.1,0.1", show_default=True, help="train,val[,test] fractions."
)
@click.option("--seed", type=int, default=0, show_default=True)
def split_command(source: Path, output: Path, ratios: str, seed: int) -> None:
    """Copy the images of SOURCE into OUTPUT/train, OUTPUT/val and OUTPUT/test."""
    from imagexform.prepare.split import parse_ratios, split
    from imagexform.prepare.walk import check_folders

    parsed = parse_ratios(ratios)
    check_folders(source, output)
    split(source, output, parsed, seed).report(output)


@prepare_group.command("resize")
@click.argument("source", type=_FOLDER)
@click.argument("output", type=_FOLDER)
@click.option("--size", type=click.IntRange(min=1), required=True, help="Edge length in pixels.")
@click.option(
    "--mode",
    type=click.Choice(_RESIZE_MODES),
    default="crop",
    show_default=True,
    help="crop: centred square; fit: longer side; stretch: square.",
)
def resize_command(source: Path, output: Path, size: int, mode: str) -> None:
    """Resize every image of SOURCE into OUTPUT, keeping names and formats."""
    from imagexform.prepare.resize import resize
    from imagexform.prepare.walk import check_folders

    check_folders(source, output)
    resize(source, output, size, mode).report(output)
