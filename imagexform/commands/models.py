"""``imagexform models list / pull / remove / info``: the catalog, the model folder and what a
model file says about itself, on the command line.

Imported by the CLI at start-up, so nothing heavy at module level; none of these commands
loads torch (they run on inference-only installs).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from imagexform.errors import UserError
from imagexform.listing import size_text

if TYPE_CHECKING:
    from imagexform.family import IOSpec
    from imagexform.modelinfo import ModelInfo
    from imagexform.runtime.modelfile import ModelFile, TensorDescription


@click.group("models")
def models_group() -> None:
    """Published, installed and exported models: list, pull, remove, info."""


@models_group.command("list")
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


@models_group.command("pull")
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
    from imagexform.catalog.store import fetch, find, onnx_path

    installed = onnx_path(find(name)).is_file()
    with terminal_progress(name) as progress:
        path = fetch(name, progress, local_file, keep_checkpoint=keep_checkpoint)
    if not installed:
        click.echo(_conversion_route(path), err=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, output)
        path = output
    click.echo(str(path))


def _conversion_route(path: Path) -> str:
    """Which way the checkpoint became a model, from the provenance the model records."""
    from imagexform.runtime.modelfile import read_model_info

    provenance = read_model_info(path).provenance
    if provenance.get("converter") == "template":
        return f"converted without torch through graph template {provenance.get('template')}"
    return f"converted with torch ({provenance.get('exporter', 'unknown')} exporter)"


models_group.add_command(
    click.Command(
        "get",
        callback=pull_command.callback,
        params=pull_command.params,
        help="The former name of `imagexform models pull`, kept so scripts keep working.",
        hidden=True,
    )
)


@models_group.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
def remove_command(name: str, yes: bool) -> None:
    """Delete installed model NAME (and its kept checkpoint) from the model folder."""
    from imagexform.catalog.store import installed_files, remove

    files = installed_files(name)
    if files and not yes:
        listing = ", ".join(path.name for path in files)
        if not click.confirm(f"Delete {listing}?", default=False, err=True):
            raise UserError(f"{name}: kept")
    for path in remove(name):
        click.echo(f"removed {path}")


def _shape(tensor: TensorDescription) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in tensor.shape)
    return f"{tensor.name} [{dims}] {tensor.element_type}"


def _range(value_range: tuple[float, float]) -> str:
    return f"[{value_range[0]:g}, {value_range[1]:g}]"


def _io_lines(io: IOSpec) -> list[str]:
    multiple = f", height and width multiples of {io.size_multiple}" if io.size_multiple > 1 else ""
    lines = [
        f"input:       {io.channels} channels {io.color_order}, range {_range(io.value_range)}"
        f"{multiple}",
        f"output:      {io.out_channels} channels, scale ×{io.scale}",
    ]
    if not io.conditions:
        lines.append("conditions:  none")
    for condition in io.conditions:
        defaults = condition.defaults
        labels = ", ".join(
            f"{label}={defaults[index]:g}" if index < len(defaults) else label
            for index, label in enumerate(condition.labels)
        )
        lines.append(
            f"condition:   {condition.name} ({labels}), range {_range(condition.value_range)}"
        )
        for group in condition.groups:
            lines.append(f"             one of: {', '.join(group)}")
    return lines


def _info_lines(info: ModelInfo) -> list[str]:
    from imagexform.architecture_text import architecture_lines

    plugin = f" (plugin {info.plugin} {info.plugin_version or ''})".rstrip() if info.plugin else ""
    tile = "chosen by the runtime" if info.tile.tile_size == 0 else str(info.tile.tile_size)
    lines = [
        f"title:       {info.title}",
        f"family:      {info.family}{plugin}",
    ]
    if info.description:
        lines.append(f"description: {info.description}")
    lines += architecture_lines(info)
    lines += [
        f"precision:   {info.precision}",
        *_io_lines(info.io),
        f"tiling:      tile {tile}, {_overlap_text(info)}",
        "provenance:",
        *(f"  {key}: {value}" for key, value in sorted(info.provenance.items())),
        "config:",
        *(f"  {key} = {value!r}" for key, value in sorted(info.config.items())),
    ]
    return lines


def _overlap_text(info: ModelInfo) -> str:
    from imagexform.runtime.model import RECEPTIVE_RAMP

    reach = info.tile.receptive_field
    if reach == 0:
        return f"overlap {info.tile.overlap} (no receptive field recorded)"
    return f"receptive field {reach} px, overlap {2 * reach + RECEPTIVE_RAMP}"


def _statistics_line(path: Path) -> str:
    """Whether the graph has image-wide statistics, read from its nodes (torch-free)."""
    from imagexform.runtime.norm_stats import read_image_wide

    wide = read_image_wide(path.read_bytes())
    return f"image-wide:  {wide.describe() if wide is not None else 'unknown (graph unreadable)'}"


def _measured_lines(path: Path) -> list[str]:
    """What this machine measured for the file before (cached; nothing is measured here)."""
    from imagexform.runtime.engines import EngineChoice
    from imagexform.runtime.quantize import cached_verdict
    from imagexform.runtime.tuning import SessionTuning, read_cached

    lines = [f"this machine: precision {_precision_text(cached_verdict(path))}"]
    engine = read_cached(EngineChoice, "engine", path)
    if engine is not None:
        lines.append(f"  engine {engine.engine} (OpenVINO f32 {engine.speedup:g}× ONNX Runtime)")
    tuning = read_cached(SessionTuning, "session", path)
    if tuning is not None:
        kept = "flushed" if tuning.flush_denormals else "kept"
        lines.append(f"  denormals {kept} (flushing measured {tuning.speedup:g}×)")
    return lines


def _precision_text(found: tuple[dict, Path | None] | None) -> str:
    if found is None:
        return "fast not prepared yet (run a batch with --precision fast once)"
    report = found[0]
    text = f"fast runs {report['recipe']}"
    for candidate in report.get("candidates", ()):
        if candidate["recipe"] == report["recipe"]:
            text += f", {candidate['speedup']:g}× fp32 at {candidate['psnr_db']:g} dB"
    return f"{text} (judged on {report.get('samples', '?')} photo crops)"


def _tensor_lines(model: ModelFile) -> list[str]:
    return [
        *(f"onnx input:  {_shape(tensor)}" for tensor in model.inputs),
        *(f"onnx output: {_shape(tensor)}" for tensor in model.outputs),
    ]


@models_group.command("info")
@click.argument("model_path", metavar="MODEL.onnx|NAME", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the raw metadata JSON.")
def models_info(model_path: Path, as_json: bool) -> None:
    """Show what a model file (or an installed or shipped model, by name) says about itself:
    family, inputs, conditions, tiling, origin. Never downloads."""
    from imagexform.catalog import local_model
    from imagexform.modelinfo import METADATA_KEY
    from imagexform.runtime.modelfile import inspect_model

    model = inspect_model(local_model(model_path, must_exist=True))
    if model.info is None:
        producer = model.producer or "?"
        click.echo(f"{model.path} ({size_text(model.size_bytes)}, producer {producer})")
        for line in _tensor_lines(model):
            click.echo(line)
        raise UserError(
            f"{model.path}: has no imagexform metadata (no {METADATA_KEY!r} entry in "
            "metadata_props); export or import it with imagexform to run it"
        )
    if as_json:
        click.echo(json.dumps(json.loads(model.metadata[METADATA_KEY]), indent=2, sort_keys=True))
        return
    click.echo(f"{model.path} ({size_text(model.size_bytes)})")
    lines = _info_lines(model.info)
    at = lines.index("provenance:")
    lines[at:at] = [_statistics_line(model.path), *_measured_lines(model.path)]
    for line in [*lines, *_tensor_lines(model)]:
        click.echo(line)
