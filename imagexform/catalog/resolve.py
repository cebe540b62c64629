"""``--model`` takes a file or a catalog name: ``imagexform batch photos/ out/ -m
realesrgan-x4plus`` downloads and converts on first use, and later runs start offline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from imagexform.catalog.store import (
    SHIPPED_MODELS,
    Entry,
    Progress,
    fetch,
    find,
    model_folder,
    pins,
)
from imagexform.errors import UserError

MODEL_SUFFIXES = (".onnx", ".ort")


def resolve_model(value: str | Path, assume_yes: bool = False) -> Path:
    """The model file ``value`` names: a path as given (missing files are reported by the
    loader), a model installed in the model folder or shipped (no network), or a catalog
    entry, downloaded and converted after asking (``assume_yes`` skips the question)."""
    path = local_model(value)
    if path.exists() or not _is_name(path):
        return path
    entry = find(path.name)
    if not assume_yes and not _confirm(entry):
        raise UserError(
            f"{entry.name}: not downloaded; pass --yes or run imagexform models pull {entry.name}"
        )
    with terminal_progress(entry.name) as progress:
        return fetch(entry.name, progress)


def local_model(value: str | Path, must_exist: bool = False) -> Path:
    """``value`` as a file already on this machine, never downloading: a path as given, or
    the model of that name installed in the model folder or shipped with imagexform. A name
    that is neither comes back as given, or with ``must_exist`` is an error saying where
    names come from."""
    path = Path(value)
    if not _is_name(path) or path.exists():
        return path
    for folder in (model_folder(), SHIPPED_MODELS):
        if (folder / f"{path.name}.onnx").is_file():
            return folder / f"{path.name}.onnx"
    if must_exist:
        raise UserError(
            f"{value}: no such file or installed model (imagexform models list --all shows "
            f"the names; a catalog model is fetched with imagexform models pull {value})"
        )
    return path


def _is_name(path: Path) -> bool:
    """Whether ``path`` reads as a model name rather than a file (no folder, no suffix)."""
    return path.suffix.lower() not in MODEL_SUFFIXES and len(path.parts) == 1


def _confirm(entry: Entry) -> bool:
    """Ask on a terminal; anything else (a script, a pipe) must say --yes."""
    if not sys.stdin.isatty():
        return False
    size = entry.size or int(pins().get(entry.name, {}).get("size", 0))
    details = [entry.task]
    if entry.license:
        details.append(f"license {entry.license}")
    if size:
        details.append(f"{size / 2**20:.0f} MB")
    return click.confirm(
        f"Download and convert {entry.name} ({', '.join(details)})?", default=True, err=True
    )


@contextmanager
def terminal_progress(name: str) -> Iterator[Progress]:
    """A ``progress(done, total)`` that draws a download bar on stderr while it is a terminal
    and stays silent otherwise, so logs and pipes get only the result."""
    from rich import progress as bars
    from rich.console import Console

    console = Console(stderr=True)
    with bars.Progress(
        bars.TextColumn("{task.description}"),
        bars.BarColumn(),
        bars.DownloadColumn(),
        bars.TransferSpeedColumn(),
        bars.TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(name, total=None)

        def progress(done: int, total: int) -> None:
            # Converting takes a while after the last byte: say so rather than sit at 100 %.
            described = f"{name}: converting" if done == total else name
            bar.update(task, completed=done, total=total or None, description=described)

        yield progress
