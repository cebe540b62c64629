"""``imagexform models list`` and ``imagexform models get``: the catalog on the command line."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import click


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_command(as_json: bool) -> None:
    """Published models that `imagexform models get NAME` fetches and converts."""
    from imagexform.catalog.store import entries, hash_status, onnx_path, pins

    pinned = pins()
    rows = [
        {**asdict(e), "cached": onnx_path(e).is_file(), "hash": hash_status(e, pinned)}
        for e in entries()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "family", "task", "license", "cached", "hash")
    for row in rows:
        hash_text = "manual download" if row["manual"] else row["hash"]
        cached = "yes" if row["cached"] else "-"
        table.add_row(row["name"], row["family"], row["task"], row["license"], cached, hash_text)
    Console().print(table)


@click.command("get")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also copy the model here.")
@click.option(
    "--file",
    "local_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Use this already downloaded release file instead of downloading it.",
)
def get_command(name: str, output: Path | None, local_file: Path | None) -> None:
    """Download, verify and convert catalog model NAME once; print the ONNX file's path."""
    from imagexform.catalog.store import fetch

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            of = f" of {total / 2**20:.1f}" if total else ""
            click.echo(f"\r{name}: {done / 2**20:.1f}{of} MB", nl=False, err=True)

    path = fetch(name, progress, local_file)
    if sys.stderr.isatty():
        click.echo(err=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, output)
        path = output
    click.echo(str(path))
