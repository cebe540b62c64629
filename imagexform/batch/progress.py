"""Progress on stderr: a live bar for a person at a terminal, plain lines for logs and CI.

A bar redrawn with carriage returns is garbage in a log file, and one line per file is noise
at a terminal, so the choice follows whether stderr is a TTY. Failures are printed as they
happen in both modes, so a long run shows its problems without waiting for the end.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from imagexform.batch.report import FileResult
from imagexform.io.images import display_path


@contextmanager
def progress(total: int, interactive: bool | None = None) -> Iterator[Callable[[FileResult], None]]:
    """A callback to report each finished file to; ``interactive`` defaults to whether
    stderr is a terminal."""
    if interactive is None:
        interactive = sys.stderr.isatty()
    if interactive:
        with _bar(total) as update:
            yield update
    else:
        yield _lines(total)


def _lines(total: int) -> Callable[[FileResult], None]:
    done = 0
    width = len(str(total))

    def update(result: FileResult) -> None:
        nonlocal done
        done += 1
        prefix = f"[{done:{width}}/{total}]"
        if result.status == "failed":
            click.echo(f"{prefix} failed {result.relative}: {result.error}", err=True)
        else:
            target = display_path(result.target) if result.target else "-"
            click.echo(
                f"{prefix} {result.status} {result.relative} -> {target} ({result.seconds:.2f} s)",
                err=True,
            )

    return update


@contextmanager
def _bar(total: int) -> Iterator[Callable[[FileResult], None]]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.2f} img/s" if speed else "-- img/s", style="progress.data.speed")

    console = Console(stderr=True)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("batch", total=total)

        failed = 0

        def update(result: FileResult) -> None:
            nonlocal failed
            if result.status == "failed":
                failed += 1
                bar.console.print(
                    f"failed {result.relative}: {result.error}", markup=False, highlight=False
                )
                bar.update(task, description=f"batch ({failed} failed)")
            bar.advance(task)

        yield update
