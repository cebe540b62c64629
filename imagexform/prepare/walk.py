"""The loop every prepare command shares: a progress bar over the files, unreadable ones
collected instead of stopping the run, and an output folder that can never be the input."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import click

from imagexform.errors import UserError
from imagexform.io.images import ImageReadError, display_path

T = TypeVar("T")


@dataclass
class Outcome:
    written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, problem)

    def report(self, output: Path) -> None:
        for name, problem in self.skipped:
            click.echo(f"skipped {name}: {problem}", err=True)
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        click.echo(f"wrote {self.written} file(s) to {display_path(output)}{skipped}")


def check_folders(source: Path, output: Path) -> None:
    """The input must exist; the output must be neither the input nor inside it (a second
    run would read its own results) nor contain it."""
    if not source.is_dir():
        raise UserError(f"{display_path(source)}: folder does not exist")
    source_real, output_real = source.resolve(), output.resolve()
    if output_real == source_real or source_real in output_real.parents:
        raise UserError(
            f"{display_path(output)}: the output folder must be outside the input folder "
            f"{display_path(source)}, which prepare never writes to"
        )
    if output_real in source_real.parents:
        raise UserError(f"{display_path(output)}: the output folder must not contain the input")


def each(
    items: Sequence[T], work: Callable[[T], int], name: Callable[[T], str], label: str
) -> Outcome:
    """Run ``work`` on every item (it returns how many files it wrote), with a bar on a
    terminal; an unreadable image is recorded by name and the rest go on."""
    outcome = Outcome()
    for item in _tracked(items, label):
        try:
            outcome.written += work(item)
        except ImageReadError as error:
            outcome.skipped.append((name(item), error.problem))
    return outcome


def _tracked(items: Sequence[T], label: str) -> Iterable[T]:
    if not sys.stderr.isatty():
        return items
    from rich.console import Console
    from rich.progress import track

    return track(items, description=label, console=Console(stderr=True), transient=True)
