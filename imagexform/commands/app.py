"""``imagexform app [IMAGE]``: start the desktop editor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from imagexform.errors import UserError


@click.command("app")
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option(
    "-m",
    "--model",
    type=click.Path(path_type=Path),
    help="Select this .onnx model, or a catalog name (downloaded and converted first).",
)
@click.option("-y", "--yes", is_flag=True, help="Download a catalog model without asking.")
def app_command(image: Path | None, model: Path | None, yes: bool) -> None:
    """Open the desktop editor, optionally with IMAGE (and MODEL) loaded."""
    if importlib.util.find_spec("PySide6") is None:
        raise UserError("the editor needs Qt: pip install 'imagexform[app]'")
    from imagexform.app.main import run
    from imagexform.catalog import resolve_model

    sys.exit(run(image, resolve_model(model, assume_yes=yes) if model is not None else None))
