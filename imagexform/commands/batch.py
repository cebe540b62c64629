"""The ``imagexform batch`` click command.

Only click and light modules are imported here: ``imagexform batch --help`` must answer at
once, so OpenCV, numpy and onnxruntime load inside the function, when there is work to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from imagexform.batch.plan import DEFAULT_NAME, DEFAULT_QUALITY, FORMATS, NAME_FIELDS
from imagexform.batch.video_options import video_options
from imagexform.errors import UserError
from imagexform.io import DEFAULT_MAX_PIXELS


def _value_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--value-range {text!r}: expected LOW,HIGH, e.g. -1,1") from None
    if not low < high:
        raise UserError(f"--value-range {text!r}: LOW must be below HIGH")
    return low, high


@click.command("batch", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input_spec", metavar="INPUT")
@click.argument("output")
@click.option(
    "-m",
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The .onnx model to apply, or a catalog name (see imagexform models list), "
    "downloaded and converted on first use.",
)
@click.option("-y", "--yes", is_flag=True, help="Download a catalog model without asking.")
@click.option("-r", "--recursive", is_flag=True, help="Include images in sub-folders of INPUT.")
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only relative paths matching this pattern (case-insensitive; repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out relative paths matching this pattern (case-insensitive; repeatable).",
)
@click.option(
    "--flatten",
    is_flag=True,
    help="Write every output directly into OUTPUT; clashing names get a short hash.",
)
@click.option(
    "--name",
    default=DEFAULT_NAME,
    show_default=True,
    help=f"Output file name template; fields: {', '.join('{' + f + '}' for f in NAME_FIELDS)}.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["same", *FORMATS]),
    default="same",
    show_default=True,
    help="Output format. 16-bit becomes 8-bit for jpg/webp; alpha is put on white for jpg.",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    default=DEFAULT_QUALITY,
    show_default=True,
    help="JPEG/WebP quality.",
)
@click.option(
    "--skip-existing/--overwrite",
    default=True,
    show_default=True,
    help="Leave outputs that already exist (so a rerun continues), or redo them.",
)
@click.option(
    "--overwrite-inputs",
    is_flag=True,
    help="Allow OUTPUT to be (or lie inside) the input folder.",
)
@click.option(
    "--keep-metadata/--strip-metadata",
    default=True,
    show_default=True,
    help="Carry EXIF (orientation reset to upright) and the ICC profile to jpg/png/webp.",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=V[,V...]",
    help="A model condition: a whole vector by name, or one entry by label "
    "(e.g. Blond_Hair=1). Repeatable.",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Mix the result with the input: 1 is the model's output, 0 the input (resized).",
)
@click.option(
    "--preserve-color/--no-preserve-color",
    default=False,
    show_default=True,
    help="Keep the input's colours and take only the result's luminance (style transfer).",
)
@click.option(
    "--outscale",
    type=click.FloatRange(0, 16, min_open=True),
    help="Resize results to this many times the input's size (e.g. 2 with a ×4 model). "
    "Default: the model's scale.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=0),
    help="Tile edge in input pixels; 0 disables tiling. Default: chosen from free memory.",
)
@click.option("--overlap", type=click.IntRange(min=0), help="Tile overlap in input pixels.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto, cpu, cuda or openvino; auto takes OpenVINO where installed and measured faster.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "fast"]),
    default="auto",
    show_default=True,
    help="fast: bf16 (OpenVINO) or int8 (ONNX Runtime or OpenVINO), whichever is fastest "
    "within 40 dB of fp32 on the first inputs, measured once per model and machine (CPU); "
    "auto: what fast chose before for this model, else fp32.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Model threads; 0 lets onnxruntime choose.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Threads for decoding and for encoding.  [default: CPU count, at most 4]",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse larger images before decoding them (decompression bombs); 0: no limit.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Process only the K-th of N parts (1 ≤ K ≤ N), split by a hash of each path.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be written, write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a JSON report: every file's status, timing, sizes and error.",
)
@click.option(
    "--value-range",
    metavar="LOW,HIGH",
    help="For models without imagexform metadata: the tensor range of black..white.",
)
@click.option(
    "--scale",
    type=click.IntRange(min=1),
    help="For models without imagexform metadata: output size / input size.",
)
@click.option(
    "--size-multiple",
    type=click.IntRange(min=1),
    help="For models without imagexform metadata: input sides must be multiples of this.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process. ray: Ray actors, one model each (images only; cluster extra).",
)
@click.option(
    "--address",
    metavar="auto|ray://HOST:PORT",
    help="With --engine ray: the cluster to join. Default: start a Ray on this machine.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="With --engine ray: actors, each loading the model once.",
)
@click.option(
    "--gpus-per-worker",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="With --engine ray: GPUs each actor reserves (fractions share a GPU).",
)
@video_options
@click.pass_context
def batch(
    ctx: click.Context,
    output: str,
    model_path: Path,
    yes: bool,
    skip_existing: bool,
    jobs: int | None,
    report_path: Path | None,
    value_range: str | None,
    video_args: dict[str, object],
    engine: str,
    address: str | None,
    workers: int,
    gpus_per_worker: float,
    **flags: object,
) -> None:
    """Transform every image and video in INPUT (a file, folder or glob) with a model into
    OUTPUT. INPUT and OUTPUT may also be URLs (s3://, gs://, az://, file://; images only),
    with credentials from each store's usual environment and config files.

    Outputs mirror INPUT's folder tree. A file that cannot be read or transformed is
    reported and skipped; exit status 1 means some files failed (they are listed at the
    end), 2 a usage error. Outputs appear only when complete, so an interrupted run is
    continued by running the same command again.
    """
    if engine == "local" and (address is not None or gpus_per_worker):
        raise UserError("--address and --gpus-per-worker need --engine ray")
    from imagexform.batch.ray_engine import ClusterSettings
    from imagexform.batch.run import BatchOptions, run_batch
    from imagexform.batch.storage import is_url
    from imagexform.batch.video import video_settings
    from imagexform.catalog import resolve_model

    # Every other flag is named as the BatchOptions field it sets.
    options = BatchOptions(
        output=Path(output),
        output_url=output if is_url(output) else None,
        model=resolve_model(model_path, assume_yes=yes),
        overwrite=not skip_existing,
        jobs=jobs or min(4, os.cpu_count() or 1),
        report=report_path,
        value_range=_value_range(value_range),
        video=video_settings(**video_args),
        cluster=ClusterSettings(engine, address, workers, gpus_per_worker),
        **flags,
    )
    code = run_batch(options)
    if code:
        ctx.exit(code)
