"""``--model`` takes a file or a catalog name: ``imagexform batch photos/ out/ -m
realesrgan-x4plus`` downloads and converts on first use, and later runs start offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imagexform.catalog.store import Entry, Progress, fetch, find, model_folder
from imagexform.errors import UserError

MODEL_SUFFIXES = (".onnx", ".ort")


def resolve_model(value: str | Path, assume_yes: bool = False) -> Path:
    """The model file ``value`` names: a path as given (missing files are reported by the
    loader), a model installed in the model folder, or a catalog entry, downloaded and
    converted after asking (``assume_yes`` skips the question)."""
    path = Path(value)
    if path.exists() or path.suffix.lower() in MODEL_SUFFIXES or len(path.parts) > 1:
        return path
    installed = model_folder() / f"{path.name}.onnx"
    if installed.is_file():
        return installed
    entry = find(path.name)
    if not assume_yes and not _confirm(entry):
        raise UserError(
            f"{entry.name}: not downloaded; pass --yes or run imagexform models pull {entry.name}"
        )
    return fetch(entry.name, terminal_progress(entry.name))


def _confirm(entry: Entry) -> bool:
    if not sys.stdin.isatty():
        return False
    licence = f", license {entry.license}" if entry.license else ""
    return click.confirm(
        f"{entry.name} ({entry.task}{licence}) is not downloaded yet. Download and convert it?",
        default=True,
        err=True,
    )


def terminal_progress(name: str) -> Progress:
    """A ``progress(done, total)`` that redraws one line on stderr when it is a terminal."""

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            of = f" of {total / 2**20:.1f}" if total else ""
            click.echo(f"\r{name}: {done / 2**20:.1f}{of} MB", nl=done == total, err=True)

    return progress
