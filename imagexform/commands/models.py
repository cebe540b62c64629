"""``imagexform models list / pull / remove``: the catalog and the model folder on the
command line."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import click


@click.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list the shipped models.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_command(show_all: bool, as_json: bool) -> None:
    """Published models (`imagexform models pull NAME` installs one) and installed models."""
    from imagexform.catalog.store import entries, hash_status, installed_files, pins

    pinned = pins()
    rows = []
    for entry in entries():
        files = installed_files(entry.name, entry)
        size = entry.size or int(pinned.get(entry.name, {}).get("size", 0))
        rows.append(
            {
                **asdict(entry),
                "installed": any(path.suffix == ".onnx" for path in files),
                "hash": "manual" if entry.manual else hash_status(entry, pinned),
                "download_bytes": size or None,
                "files": [str(path) for path in files],
            }
        )
    rows += _other_models({row["name"] for row in rows}, show_all)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table(rows))


HASH_NOTES = {
    "unpinned": "no published sha256; the first download pins its size and hash",
    "pinned": "checked against the size and hash pinned by the first download",
    "published": "checked against the publisher's sha256",
    "manual": "no direct download; `imagexform models pull NAME` says where to get the file",
}


def _table(rows: list[dict[str, object]]) -> str:
    """One line per model with its task below it, then what the hash states mean."""
    from imagexform.listing import listing

    cells = [
        (
            str(row["name"]),
            str(row["family"]),
            f"{row['download_bytes'] / 2**20:.1f} MB"
            if row["download_bytes"]
            else ("-" if row["installed"] else "?"),
            "yes" if row["installed"] else "-",
            str(row["license"] or ""),
            str(row["hash"]),
        )
        for row in rows
    ]
    header = ("name", "family", "size", "installed", "license", "hash")
    text = listing(header, cells, [str(row["task"] or "") for row in rows])
    used = {values[-1] for values in cells}
    notes = [f"{status}: {note}" for status, note in HASH_NOTES.items() if status in used]
    return "\n".join([text, "", *notes] if notes else [text])


def _other_models(catalogued: set[str], show_all: bool) -> list[dict[str, object]]:
    """ONNX files in the model folder that no catalog entry made (and, with ``show_all``,
    the shipped ones), described by their own metadata."""
    from imagexform.catalog.store import SHIPPED_MODELS, model_folder
    from imagexform.errors import UserError
    from imagexform.runtime.modelfile import inspect_model

    folders = [("yours", model_folder())] + ([("shipped", SHIPPED_MODELS)] if show_all else [])
    rows = []
    for origin, folder in folders:
        for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
            if path.stem in catalogued:
                continue
            try:
                info = inspect_model(path).info
            except UserError:
                info = None
            rows.append(
                {
                    "name": path.stem,
                    "family": info.family if info else "?",
                    "task": (info.title if info else "") or origin,
                    "license": "",
                    "installed": True,
                    "hash": origin,
                    "download_bytes": None,
                    "files": [str(path)],
                }
            )
    return rows


@click.command("pull")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also copy the model here.")
@click.option(
    "--file",
    "local_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Use this already downloaded release file instead of downloading it.",
)
@click.option(
    "--keep-checkpoint",
    is_flag=True,
    help="Keep the verified release file in the model folder beside the ONNX model.",
)
def pull_command(
    name: str, output: Path | None, local_file: Path | None, keep_checkpoint: bool
) -> None:
    """Download, verify and convert catalog model NAME once; print the ONNX file's path.

    An interrupted download resumes where it stopped when the command runs again.
    """
    from imagexform.catalog.resolve import terminal_progress
    from imagexform.catalog.store import fetch

    with terminal_progress(name) as progress:
        path = fetch(name, progress, local_file, keep_checkpoint=keep_checkpoint)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, output)
        path = output
    click.echo(str(path))


get_command = click.Command(
    "get",
    callback=pull_command.callback,
    params=pull_command.params,
    help="The former name of `imagexform models pull`, kept so scripts keep working.",
    hidden=True,
)


@click.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
def remove_command(name: str, yes: bool) -> None:
    """Delete installed model NAME (and its kept checkpoint) from the model folder."""
    from imagexform.catalog.store import installed_files, remove
    from imagexform.errors import UserError

    files = installed_files(name)
    if files and not yes:
        listing = ", ".join(path.name for path in files)
        if not click.confirm(f"Delete {listing}?", default=False, err=True):
            raise UserError(f"{name}: kept")
    for path in remove(name):
        click.echo(f"removed {path}")
