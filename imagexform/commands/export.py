"""The ``export`` and ``import`` commands: a trained run or a foreign checkpoint becomes a
verified ONNX file.

Imported by the CLI at start-up, so nothing heavy at module level: torch loads inside the
commands only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from imagexform.errors import UserError
from imagexform.listing import size_text

if TYPE_CHECKING:
    from imagexform.export.onnx_export import ExportReport

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


def _print_report(report: ExportReport) -> None:
    info = report.info
    click.echo(
        f"wrote {report.path} ({size_text(report.size_bytes)}, {info.precision}, "
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
    help="Export one of the family's variants (CycleGAN: A2B or B2A); 'all' writes the "
    "family's model to OUTPUT and each variant beside it, with -NAME added to OUTPUT's name.",
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
    "--provenance",
    type=click.Choice(["shareable", "full"]),
    default="shareable",
    show_default=True,
    help="shareable: the file names the run, step and weight hashes, never a local folder; "
    "full: also the run's and checkpoint's absolute paths (for files you keep to yourself).",
)
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
    provenance: str,
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
        targets = {None: output} | {
            name: output.with_name(f"{output.stem}-{name}{output.suffix}")
            for name in variant_names(source)
        }
    for name, path in targets.items():
        suffix = f" ({name})" if name and variant == "all" else ""
        report = export_checkpoint(
            source,
            path,
            net=net,
            variant=name,
            use_ema=ema,
            fp16=fp16,
            tolerance=tolerance,
            title=f"{title}{suffix}" if title else None,
            description=f"{description}{suffix}" if description else None,
            provenance=provenance,
        )
        _print_report(report)


@click.command("import")
@click.argument("foreign", metavar="FOREIGN.pth|.safetensors", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .onnx file to write (replaced only after the export is verified); "
    "required unless --explain.",
)
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
@click.option(
    "--family",
    "family_name",
    default=None,
    metavar="NAME",
    help="The family that trained the file, when its weights cannot tell (a junyanz "
    "generator is pix2pix's or one direction of a CycleGAN: --family cyclegan).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="List every importer in the order they are asked, which detect the file and which "
    "is chosen; then import only if -o is given.",
)
@click.option("--importer", default=None, metavar="NAME", help="Use this importer only.")
@click.option(
    "--exporter",
    type=click.Choice(["auto", "dynamo", "torchscript"]),
    default="auto",
    show_default=True,
    help="auto: torch's dynamo exporter (in a child process), then the TorchScript exporter "
    "if it fails; the parity check gates either.",
)
@click.option(
    "--via",
    type=click.Choice(["auto", "template", "torch"]),
    default="auto",
    show_default=True,
    help="template: fill a shipped graph template (seconds, no torch needed; the published "
    "RRDBNet, Compact, junyanz, TransformerNet and StarGAN configurations); torch: rebuild "
    "the network and export it (any architecture spandrel or an importer knows); auto: the "
    "template when one fits and no torch-only option is given, else torch.",
)
def import_command(
    foreign: Path,
    output: Path | None,
    fp16: bool,
    tolerance: float | None,
    assignments: tuple[str, ...],
    title: str | None,
    family_name: str | None,
    explain: bool,
    importer: str | None,
    exporter: str,
    via: str,
) -> None:
    """Convert a published checkpoint (.pth, .pt, .ckpt or .safetensors) to an imagexform
    ONNX model.

    The importers recognise the format and architecture from the weights alone (spandrel's
    40-odd SR and restoration architectures included); the file is loaded without executing
    any pickled code.
    """
    from imagexform.config import parse_assignments

    overrides = parse_assignments(assignments)
    torch_only = fp16 or tolerance is not None or explain or importer or exporter != "auto"
    if _converted_without_torch(via, torch_only, foreign, output, overrides, title, family_name):
        return
    from imagexform.export.importing import describe_choice, explain_import, import_foreign

    if explain:
        for line in describe_choice(explain_import(foreign, only=importer)):
            click.echo(line)
    if output is None:
        if explain:
            return
        raise UserError("import needs -o/--output MODEL.onnx (or --explain alone)")
    report = import_foreign(
        foreign,
        output,
        fp16=fp16,
        tolerance=tolerance,
        overrides=overrides,
        title=title,
        family_name=family_name,
        only=importer,
        exporters=("dynamo", "torchscript") if exporter == "auto" else (exporter,),
    )
    click.echo(
        f"recognised by importer {report.info.provenance['importer']}: {report.info.description}"
    )
    for failure in report.exporter_failures:
        click.echo(f"note: {failure}")
    click.echo(f"exported with torch's {report.exporter} exporter")
    _print_report(report)


def _converted_without_torch(
    via: str,
    torch_only: bool,
    foreign: Path,
    output: Path | None,
    overrides: dict[str, str],
    title: str | None,
    family_name: str | None,
) -> bool:
    """Whether the template route converted the file; False leaves it to the torch import.
    ``auto`` tries a template unless a torch-only option is given, and falls back to torch
    (which reads more: any importer, any --set) when one does not fit and torch is there."""
    from imagexform.convert.conversion import torch_installed

    if via == "template" or (via == "auto" and not torch_only):
        try:
            _convert_without_torch(foreign, output, overrides, title, family_name)
            return True
        except UserError:
            if via == "template" or not torch_installed():
                raise
    elif not torch_installed():
        raise UserError(
            f"{foreign}: --via torch and --fp16/--tolerance/--explain/--importer/--exporter "
            "need the training extra (pip install 'imagexform[train]')"
        )
    return False


def _convert_without_torch(
    foreign: Path,
    output: Path | None,
    overrides: dict[str, str],
    title: str | None,
    family_name: str | None,
) -> None:
    from imagexform.convert.conversion import convert_checkpoint

    if output is None:
        raise UserError("import needs -o/--output MODEL.onnx (or --explain alone)")
    report = convert_checkpoint(
        foreign, output, overrides=overrides, title=title, family_name=family_name
    )
    click.echo(f"recognised by importer {report.importer}: {report.info.description}")
    click.echo(
        f"converted without torch through graph template {report.template} "
        f"in {report.seconds:.1f} s"
    )
    click.echo(
        f"wrote {report.path} ({size_text(report.size_bytes)}, {report.info.precision}): "
        f"{report.info.title}"
    )
