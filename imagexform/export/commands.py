"""The ``export``, ``import`` and ``models`` commands.

Imported by the CLI at start-up, so nothing heavy at module level: torch loads inside
``export``/``import`` only, and ``models info`` never loads it (it runs on inference-only
installs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from imagexform.errors import UserError

if TYPE_CHECKING:
    from imagexform.export.modelfile import ModelFile, TensorDescription
    from imagexform.export.onnx_export import ExportReport
    from imagexform.family import IOSpec
    from imagexform.modelinfo import ModelInfo

_OUTPUT = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .onnx file to write (replaced only after the export is verified).",
)
_FP16 = click.option(
    "--fp16",
    is_flag=True,
    help="Compute in half precision (for GPUs); inputs and outputs stay float32.",
)
_TOLERANCE = click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Largest allowed |onnxruntime - torch| in the parity check "
    "[default: 1e-4, or 2e-2 with --fp16].",
)

_TITLE = click.option(
    "--title",
    default=None,
    help="The model's name as users see it (editor, models info) [default: family, run and "
    "step, or the imported file's name].",
)


def _size(size_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size_bytes < 1000 or unit == "GB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1000
    raise AssertionError("unreachable")


def _print_report(report: ExportReport) -> None:
    info = report.info
    click.echo(
        f"wrote {report.path} ({_size(report.size_bytes)}, {info.precision}, "
        f"opset {report.opset}): {info.title}"
    )
    checks = ", ".join(f"{r.label} {r.max_abs:.2g}" for r in report.parity)
    click.echo(f"parity, max |onnxruntime - torch| (tolerance {report.tolerance:g}): {checks}")


@click.command("export")
@click.argument("source", metavar="RUN_OR_CHECKPOINT", type=click.Path(path_type=Path))
@_OUTPUT
@click.option(
    "--net",
    default=None,
    metavar="NAME",
    help="Export this network (e.g. D, G_B) instead of the family's inference module.",
)
@click.option(
    "--variant",
    default=None,
    metavar="NAME",
    help="Export one of the family's variants (CycleGAN: A2B or B2A); 'all' writes each to "
    "OUTPUT's name with -NAME added.",
)
@click.option(
    "--ema/--no-ema",
    default=True,
    show_default=True,
    help="Use the averaged weights where the checkpoint kept them.",
)
@_FP16
@_TOLERANCE
@_TITLE
@click.option(
    "--description",
    default=None,
    help="One or two sentences on what the model does and was trained on [default: the "
    "family's summary].",
)
def export_command(
    source: Path,
    output: Path,
    net: str | None,
    variant: str | None,
    ema: bool,
    fp16: bool,
    tolerance: float | None,
    title: str | None,
    description: str | None,
) -> None:
    """Export a trained model to one self-describing ONNX file, verified against torch.

    RUN_OR_CHECKPOINT is a run directory (its latest checkpoint) or one checkpoint directory.
    """
    from imagexform.export.sources import export_checkpoint, variant_names

    if net is not None and variant is not None:
        raise UserError("--net and --variant choose the same thing; give one")
    targets = {variant: output}
    if variant == "all":
        targets = {
            name: output.with_name(f"{output.stem}-{name}{output.suffix}")
            for name in variant_names(source)
        }
    for name, path in targets.items():
        report = export_checkpoint(
            source,
            path,
            net=net,
            variant=name,
            use_ema=ema,
            fp16=fp16,
            tolerance=tolerance,
            title=f"{title} ({name})" if title and variant == "all" else title,
            description=f"{description} ({name})"
            if description and variant == "all"
            else description,
        )
        _print_report(report)


@click.command("import")
@click.argument("foreign", metavar="FOREIGN.pth", type=click.Path(path_type=Path))
@_OUTPUT
@_FP16
@_TOLERANCE
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting the file cannot tell, e.g. --set scale=2 for some super-resolution files.",
)
@_TITLE
def import_command(
    foreign: Path,
    output: Path,
    fp16: bool,
    tolerance: float | None,
    assignments: tuple[str, ...],
    title: str | None,
) -> None:
    """Convert a reference implementation's checkpoint to an imagexform ONNX model.

    The plugins' importers recognise the format and architecture from the weights alone; the
    file is loaded without executing any pickled code.
    """
    from imagexform.config import parse_assignments
    from imagexform.export.sources import import_foreign

    overrides = parse_assignments(assignments)
    report = import_foreign(
        foreign, output, fp16=fp16, tolerance=tolerance, overrides=overrides, title=title
    )
    click.echo(
        f"recognised by importer {report.info.provenance['importer']}: {report.info.description}"
    )
    _print_report(report)


@click.group("models")
def models_group() -> None:
    """Published, installed and exported models: list, pull, remove, info."""


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
    plugin = f" (plugin {info.plugin} {info.plugin_version or ''})".rstrip() if info.plugin else ""
    tile = "chosen by the runtime" if info.tile.tile_size == 0 else str(info.tile.tile_size)
    lines = [
        f"title:       {info.title}",
        f"family:      {info.family}{plugin}",
    ]
    if info.description:
        lines.append(f"description: {info.description}")
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
    from imagexform.export.modelfile import inspect_model
    from imagexform.modelinfo import METADATA_KEY

    model = inspect_model(local_model(model_path, must_exist=True))
    if model.info is None:
        click.echo(f"{model.path} ({_size(model.size_bytes)}, producer {model.producer or '?'})")
        for line in _tensor_lines(model):
            click.echo(line)
        raise UserError(
            f"{model.path}: has no imagexform metadata (no {METADATA_KEY!r} entry in "
            "metadata_props); export or import it with imagexform to run it"
        )
    if as_json:
        click.echo(json.dumps(json.loads(model.metadata[METADATA_KEY]), indent=2, sort_keys=True))
        return
    click.echo(f"{model.path} ({_size(model.size_bytes)})")
    lines = _info_lines(model.info)
    lines.insert(lines.index("provenance:"), _statistics_line(model.path))
    for line in [*lines, *_tensor_lines(model)]:
        click.echo(line)
