"""``imagexform app [IMAGE]``: start the desktop editor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from imagexform.errors import UserError


@click.command("app")
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option("-m", "--model", type=click.Path(path_type=Path), help="Select this .onnx model.")
def app_command(image: Path | None, model: Path | None) -> None:
    """Open the desktop editor, optionally with IMAGE (and MODEL) loaded."""
    if importlib.util.find_spec("PySide6") is None:
        raise UserError("the editor needs Qt: pip install 'imagexform[app]'")
    from imagexform.app.main import run

    sys.exit(run(image, model))
