"""One ``imagexform batch`` run, from options to exit code: plan (check, discover, load the
model, decide targets), prepare (the output folder), execute (transform, report, summary).

The order matters: every check that can refuse the whole run (paths, model, conditions,
output folder) happens before the first image is read, so a usage mistake costs nothing and
never leaves half an output folder behind.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from imagexform.batch.conditions import build_conditions
from imagexform.batch.discover import Discovery, Source, discover, input_root, is_glob
from imagexform.batch.manifest import mark_recorded, records_folder
from imagexform.batch.pipeline import Settings, Stats, Task
from imagexform.batch.plan import Planned, check_template, parse_shard, plan
from imagexform.batch.progress import progress
from imagexform.batch.ray_engine import ActorSpec, ClusterSettings, run_on_ray
from imagexform.batch.remote import (
    Stores,
    check_store_output,
    discover_objects,
    skip_existing_objects,
    store_io,
    stores_for,
)
from imagexform.batch.report import FileResult, build_report, write_report
from imagexform.batch.storage import is_url
from imagexform.batch.video import (
    VideoSettings,
    describe_source,
    report_settings,
    run_tasks,
    video_suffix,
)
from imagexform.errors import UserError
from imagexform.io.digest import file_sha256
from imagexform.io.images import display_path, is_temp_name, read_file_bytes, write_bytes_atomic
from imagexform.io.video import check_spec
from imagexform.runtime.adjustments import Adjustments

if TYPE_CHECKING:
    from imagexform.runtime import RuntimeModel

# Runs the tasks, telling on_result of each file; the pipeline's statistics.
Runner = Callable[..., Stats]
STALE_TEMP_SECONDS = 15 * 60  # a temp file this old belongs to no live writer
_OPENCV_PIXEL_LIMIT = 1 << 30  # OpenCV's own decode limit, raised when --max-pixels is higher


@dataclass(frozen=True)
class BatchOptions:
    """What a run does: the ``imagexform batch`` flags, also filled in by the editor's form."""

    input_spec: str
    output: Path
    model: Path
    recursive: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    flatten: bool = False
    name: str = "{stem}{ext}"
    output_format: str = "same"
    quality: int = 95
    overwrite: bool = False
    overwrite_inputs: bool = False
    keep_metadata: bool = True
    assignments: tuple[str, ...] = ()
    strength: float = 1.0
    preserve_color: bool = False
    outscale: float | None = None
    tile: int | None = None
    overlap: int | None = None
    device: str = "auto"
    threads: int = 0
    jobs: int = 2
    max_pixels: int = 100_000_000
    shard: str | None = None
    dry_run: bool = False
    report: Path | None = None
    value_range: tuple[float, float] | None = None
    scale: int | None = None
    size_multiple: int | None = None
    precision: str = "auto"
    progress: bool | None = None  # None: a bar when stderr is a terminal
    video: VideoSettings = field(default_factory=VideoSettings)  # batch/video.py
    output_url: str | None = None  # OUTPUT as a store URL (batch/storage.py); output unused
    cluster: ClusterSettings = field(default_factory=ClusterSettings)  # batch/ray_engine.py


@dataclass(frozen=True)
class BatchObserver:
    """How a front end follows and stops a run, kept apart from what the run does. The command
    line needs neither (its progress bar and summary are the run's own, Ctrl-C stops it); the
    editor's batch dialog counts the files and has a Cancel button."""

    # Told of every file, skipped ones included, from the run's threads, one call at a time.
    on_result: Callable[[FileResult], None] | None = None
    cancel: threading.Event | None = None  # set to stop the run as Ctrl-C does
    on_frame: Callable[[int, int], None] | None = None  # (done, total) frames of a video


@dataclass
class BatchPlan:
    """Everything checked and decided before anything is written: the model loaded, the
    conditions read, each discovered file's target (or its reason to be skipped)."""

    model: RuntimeModel
    load_seconds: float
    conditions: dict[str, list[float]]
    planned: list[Planned]
    discovered: int
    shard: tuple[int, int]
    stores: Stores | None = None  # INPUT or OUTPUT in an object store (batch/remote.py)


@dataclass
class PreparedWork:
    """The output folder ready, and the files to transform apart from those skipped."""

    tasks: list[Task]
    skipped: list[FileResult]


def run_batch(options: BatchOptions, observer: BatchObserver | None = None) -> int:
    """Run the batch and return the exit code: 0 all done, 1 some files failed, 130
    interrupted. Usage problems raise :class:`UserError` (exit 2)."""
    batch_plan = plan_batch(options)
    if options.dry_run:
        _print_plan(batch_plan.planned, options, batch_plan.discovered)
        return 0
    work = prepare_batch(options, batch_plan)
    return execute_batch(options, batch_plan, work, observer or BatchObserver())


def plan_batch(options: BatchOptions) -> BatchPlan:
    """Check the options, find the inputs, load the model and decide every target; reads no
    image and writes nothing."""
    check_template(options.name)
    check_spec(options.video.encode)
    shard = parse_shard(options.shard) if options.shard else (1, 1)
    if options.max_pixels == 0 or options.max_pixels > _OPENCV_PIXEL_LIMIT:
        # OpenCV has its own limit, read once at its first decode.
        limit = options.max_pixels or 1 << 62
        os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(limit))
    stores = stores_for(options.input_spec, options.output_url)
    found = _discover(options, stores)
    if not found.sources:
        hint = ""
        if Path(options.input_spec).is_dir() and not options.recursive:
            hint = " (add --recursive to look in sub-folders)"
        raise UserError(f"{options.input_spec}: no image files found{hint}")
    output = Path(stores.output.root) if stores and stores.output else options.output
    loading = time.perf_counter()
    read = stores.input.read if stores and stores.input else read_file_bytes
    model = _load_model(options, found.sources, read)
    load_seconds = time.perf_counter() - loading
    model.require_images()
    info = model.info
    conditions = build_conditions(info.io.conditions, options.assignments)
    model.check_conditions(conditions)
    planned = plan(
        found.sources,
        output,
        template=options.name,
        output_format=options.output_format,
        fields={
            "model": options.model.stem,
            "family": info.family,
            "scale": f"{options.outscale:g}" if options.outscale else info.io.scale,
        },
        flatten=options.flatten,
        overwrite=options.overwrite,
        shard=shard,
        video_suffix=video_suffix(options.video.encode),
    )
    if stores and stores.output:
        planned = skip_existing_objects(planned, stores.output, options.overwrite)
    return BatchPlan(model, load_seconds, conditions, planned, len(found.sources), shard, stores)


def _discover(options: BatchOptions, stores: Stores | None) -> Discovery:
    """INPUT's sources, listed from its store or found on disk."""
    if stores and stores.input:
        return discover_objects(stores.input, options.recursive, options.include, options.exclude)
    skip_tree = None if stores and stores.output else _check_output_placement(options)
    return discover(
        options.input_spec,
        recursive=options.recursive,
        include=options.include,
        exclude=options.exclude,
        skip_tree=skip_tree,
    )


def prepare_batch(options: BatchOptions, batch_plan: BatchPlan) -> PreparedWork:
    """Make sure the outputs (and the report) can be written, clear stale temp files, and
    split the plan into work and files skipped because their output exists."""
    stores = batch_plan.stores
    if stores and stores.output:
        check_store_output(stores.output)
    else:
        _prepare_output(options.output, batch_plan.planned)
    if options.report is not None:
        _check_writable(options.report.parent, "the report's folder")
    skipped = [
        FileResult(
            source=p.source.path,
            relative=display_path(p.source.relative),
            target=p.target,
            status="skipped",
            error="output exists",
        )
        for p in batch_plan.planned
        if p.skip
    ]
    if skipped:
        click.echo(
            f"skipping {len(skipped)} file(s) whose output exists (--overwrite redoes them)",
            err=True,
        )
    tasks = [Task(p.source, p.target) for p in batch_plan.planned if not p.skip]
    return PreparedWork(tasks, skipped)


def execute_batch(
    options: BatchOptions, batch_plan: BatchPlan, work: PreparedWork, observer: BatchObserver
) -> int:
    """Transform the files, write the report when asked, print the summary; the exit code."""
    settings = Settings(
        jobs=options.jobs,
        max_pixels=options.max_pixels,
        keep_metadata=options.keep_metadata,
        quality=options.quality,
        conditions=batch_plan.conditions,
        adjustments=Adjustments(options.strength, options.preserve_color, options.outscale),
        tile_size=options.tile,
        overlap=options.overlap,
        cancel=observer.cancel,
        **store_io(batch_plan.stores),
    )
    if options.cluster.engine == "ray" and work.skipped:
        model_sha256, folder = _records(options, batch_plan)
        location = batch_plan.stores.output if batch_plan.stores else None
        skipped = mark_recorded(work.skipped, folder, location, model_sha256)
        work = PreparedWork(work.tasks, skipped)
    if observer.on_result is not None:
        for result in work.skipped:
            observer.on_result(result)
    video = dataclasses.replace(options.video, on_frame=observer.on_frame)
    results, stats, wall = _process(
        work.tasks, _engine(options, batch_plan, settings, video), options.progress, observer
    )
    results = work.skipped + results
    if options.report is not None:
        _write_report(options, batch_plan, results, stats, wall)
    from imagexform.runtime.engines import engine_text

    engine = engine_text(batch_plan.model)
    return _summarise(results, wall, engine, stats is None, len(work.tasks))


def _engine(
    options: BatchOptions, batch_plan: BatchPlan, settings: Settings, video: VideoSettings
) -> Runner:
    """How the tasks run: in this process, or on Ray actors that rebuild model and settings."""
    if options.cluster.engine != "ray":
        return functools.partial(run_tasks, model=batch_plan.model, settings=settings, video=video)
    load = {
        "device": options.device,
        "threads": options.threads,
        "value_range": options.value_range,
        "scale": options.scale,
        "size_multiple": options.size_multiple,
        "precision": options.precision,
    }
    portable = dataclasses.replace(
        settings, cancel=None, read=read_file_bytes, write=write_bytes_atomic
    )
    input_url = options.input_spec if is_url(options.input_spec) else None
    model_sha256, records = _records(options, batch_plan)
    spec = ActorSpec(
        options.model.resolve(),
        load,
        portable,
        input_url,
        options.output_url,
        model_sha256,
        records,
    )
    return functools.partial(run_on_ray, spec=spec, cluster=options.cluster)


def _records(options: BatchOptions, batch_plan: BatchPlan) -> tuple[str, Path]:
    """The model's digest and the folder of its completion records under the output."""
    stores = batch_plan.stores
    root = Path(stores.output.root) if stores and stores.output else options.output
    model_sha256 = file_sha256(options.model)
    return model_sha256, records_folder(root, model_sha256)


def _write_report(
    options: BatchOptions,
    batch_plan: BatchPlan,
    results: list[FileResult],
    stats: Stats | None,
    wall: float,
) -> None:
    assert options.report is not None
    from imagexform.runtime.engines import chosen_candidate

    timing = {"load_seconds": batch_plan.load_seconds, "wall_seconds": wall}
    if stats is not None and options.cluster.engine == "local":  # Ray's are per actor
        timing |= {
            "decode_seconds": stats.decode_seconds,
            "model_seconds": stats.model_seconds,
            "model_wait_seconds": stats.model_wait_seconds,
            "encode_seconds": stats.encode_seconds,
            "cpu_seconds": stats.cpu_seconds,
        }
    model, info = batch_plan.model, batch_plan.model.info
    report = build_report(
        results,
        input_spec=display_path(options.input_spec),
        output=options.output_url or options.output,
        model={
            "path": display_path(options.model),
            "family": info.family,
            "title": info.title,
            "provider": model.provider,
            "precision": model.precision,
            "precision_measured": chosen_candidate(model),
            "scale": info.io.scale,
        },
        settings=_settings_for_report(options, batch_plan.conditions, batch_plan.shard),
        timing=timing,
        interrupted=stats is None,
    )
    write_report(options.report, report)


def _load_model(
    options: BatchOptions, sources: Sequence[Source], read: Callable[[Path], bytes]
) -> RuntimeModel:
    if not options.model.is_file():
        raise UserError(f"{display_path(options.model)}: model file not found")
    from imagexform.runtime import load_model

    calibration = None
    if options.precision == "fast":
        calibration = _samples(sources, options.max_pixels, read)
    return load_model(
        options.model,
        device=options.device,
        threads=options.threads,
        value_range=options.value_range,
        scale=options.scale,
        size_multiple=options.size_multiple,
        precision=options.precision,
        calibration=calibration,
    )


def _process(
    tasks: Sequence[Task],
    runner: Runner,
    show_progress: bool | None,
    observer: BatchObserver,
) -> tuple[list[FileResult], Stats | None, float]:
    """Results so far, the pipeline's statistics (None when interrupted) and the wall time."""
    results: list[FileResult] = []
    began = time.perf_counter()
    stats = Stats()
    try:
        with progress(len(tasks), show_progress) as update:

            def collect(result: FileResult) -> None:
                results.append(result)
                update(result)
                if observer.on_result is not None:
                    observer.on_result(result)

            if tasks:
                stats = runner(tasks, on_result=collect)
    except KeyboardInterrupt:
        return results, None, time.perf_counter() - began
    return results, stats, time.perf_counter() - began


def _samples(
    sources: Sequence[Source], max_pixels: int, read: Callable[[Path], bytes]
) -> list[np.ndarray]:
    """The first few readable images, for the runtime to calibrate and check a reduced
    precision model on the user's own kind of pictures; read and decoded as the pipeline
    will read them (from disk or a store)."""
    from imagexform.io.images import ImageReadError, decode_image
    from imagexform.io.probe import check_pixels, probe_bytes
    from imagexform.io.video import is_video_name
    from imagexform.runtime.quantize import MAX_SAMPLES

    samples = []
    for source in sources:
        if is_video_name(source.path):
            continue
        try:
            data = read(source.path)
            check_pixels(probe_bytes(data), max_pixels, source.path)
            samples.append(decode_image(data, source.path))
        except ImageReadError:
            continue
        if len(samples) == MAX_SAMPLES:
            break
    return samples


def _check_output_placement(options: BatchOptions) -> Path | None:
    """Refuse to write into the input tree unless asked; returns the output folder when it
    lies inside the input, so discovery never reads it."""
    root = input_root(options.input_spec).resolve()
    output = options.output.resolve()
    descends = options.recursive or (is_glob(options.input_spec) and "**" in options.input_spec)
    if options.overwrite_inputs:
        return output if output != root and output.is_relative_to(root) else None
    if output == root:
        raise UserError(
            f"OUTPUT {display_path(options.output)} is the input folder; choose another "
            "folder, or pass --overwrite-inputs to write beside (or over) the originals"
        )
    if output.is_relative_to(root) and descends:
        raise UserError(
            f"OUTPUT {display_path(options.output)} is inside the input folder and would be "
            "read again as input; choose a folder outside it, or pass --overwrite-inputs"
        )
    return output if output.is_relative_to(root) else None


def _prepare_output(output: Path, planned: Sequence[Planned]) -> None:
    """Make sure outputs can be written before any work, and clear temp files that a killed
    run left behind (only ours, and only old ones, which no live writer still owns)."""
    _check_writable(output, "the output folder")
    now = time.time()
    for folder in sorted({p.target.parent for p in planned}):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not is_temp_name(entry.name):
                continue
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS:
                    os.unlink(entry.path)
            except OSError:
                continue


def _check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and prove a file can be written there, so a read-only or
    full destination is a usage error before any work, not a failure per file (or lost work
    at the end). Permission bits alone would not tell: root ignores them."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{display_path(folder)}: cannot create {what} ({exc.strerror or exc})"
        ) from None
    # Random, not the pid: shards on other machines may probe the same shared folder.
    probe = folder / f".imagexform-write-test-{secrets.token_hex(6)}"
    try:
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"{display_path(folder)}: cannot write to {what} ({exc.strerror or exc})"
        ) from None


def _print_plan(planned: Sequence[Planned], options: BatchOptions, discovered: int) -> None:
    writes = sum(not p.skip for p in planned)
    header = f"dry run: {len(planned)} of {discovered} file(s)"
    if options.shard:
        header += f" in shard {options.shard}"
    click.echo(f"{header}; would write {writes}, skip {len(planned) - writes} existing")
    for p in planned:
        action = "skip " if p.skip else "write"
        source = display_path(p.source.path)
        note = describe_source(p.source.path)
        click.echo(f"{action} {source} -> {display_path(p.target)}{note}")


def _summarise(
    results: Sequence[FileResult],
    wall: float,
    engine: str,
    interrupted: bool,
    todo: int,
) -> int:
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
    rate = counts["ok"] / wall if wall > 0 else 0.0
    click.echo(
        f"{counts['ok']} done, {counts['skipped']} skipped, {counts['failed']} failed "
        f"in {wall:.1f} s ({rate:.2f} images/s on {engine})"
    )
    failed = sorted((r for r in results if r.status == "failed"), key=lambda r: r.relative)
    if failed:
        click.echo("failed files:", err=True)
        for result in failed:
            click.echo(f"  {display_path(result.source)}: {result.error}", err=True)
    if interrupted:
        finished = counts["ok"] + counts["failed"]
        click.echo(
            f"interrupted after {finished} of {todo} file(s); run the same command again to "
            "continue (finished outputs are kept, nothing partial was written)",
            err=True,
        )
        return 130
    return 1 if failed else 0


def _settings_for_report(
    options: BatchOptions, conditions: dict[str, list[float]], shard: tuple[int, int]
) -> dict[str, object]:
    left_out = ("input_spec", "output", "output_url", "model", "report", "progress", "video")
    left_out += ("cluster",)
    settings = {
        field.name: getattr(options, field.name)
        for field in fields(options)
        if field.name not in left_out
    }
    settings["conditions"] = conditions
    settings["shard"] = list(shard)
    settings["video"] = report_settings(options.video)
    settings["engine"] = options.cluster.engine
    return {key: list(v) if isinstance(v, tuple) else v for key, v in settings.items()}
