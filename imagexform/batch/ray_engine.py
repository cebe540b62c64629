"""``imagexform batch --engine ray``: the same work as local batch, spread over a Ray cluster.

The driver plans exactly as local batch does (names, shards, skips), then hands Ray Data one
small row per file (paths, never pixels, so its memory stays flat however many inputs are
listed). ``map_batches`` runs :class:`Transformer`, an actor class that loads the model once
per actor and pushes each batch of rows through the local pipeline (decode → model → encode,
atomic writes), so outputs are byte-identical to local batch. Each row comes back as one
file's result, streamed to the driver as blocks finish: that drives the live progress and the
one JSON report of every worker's results.

Ray is imported only here, inside functions: ``--engine local`` needs no Ray.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from imagexform.batch.discover import Source
from imagexform.batch.manifest import block_record
from imagexform.batch.pipeline import Settings, Stats, Task, run_pipeline
from imagexform.batch.report import FileResult
from imagexform.errors import UserError
from imagexform.io.images import write_bytes_atomic
from imagexform.io.video import is_video_name

VIDEO_REFUSAL = "videos are converted with --engine local only"


@dataclass(frozen=True)
class ClusterSettings:
    """Where the work runs: ``engine`` local (this process) or ray (a Ray cluster)."""

    engine: str = "local"
    address: str | None = None  # "auto", "ray://HOST:PORT"; None starts a local Ray
    workers: int = 2  # actors, each with its own copy of the model
    gpus_per_worker: float = 0.0
    batch_size: int = 16  # rows per map_batches call: the unit retried when an actor dies


@dataclass(frozen=True)
class ActorSpec:
    """What an actor needs to rebuild the driver's model and pipeline settings on its node;
    plain data, so it pickles to any machine of the cluster."""

    model: Path
    load: dict[str, Any]  # load_model's keyword arguments
    settings: Settings  # without cancel, read and write: those are rebuilt in the actor
    input_url: str | None
    output_url: str | None
    model_sha256: str
    records: Path  # where each batch's completion record goes (batch/manifest.py)
    model_bytes: Any = None  # the model file in Ray's object store, for nodes without it


class Transformer:
    """One Ray actor: the model loaded once, then every batch of rows through the pipeline."""

    def __init__(self, spec: ActorSpec) -> None:
        from imagexform.batch.remote import store_io, stores_for
        from imagexform.runtime import load_model

        self.model = load_model(_model_on_this_node(spec), **spec.load)
        io = store_io(stores_for(spec.input_url or "", spec.output_url))
        self.settings = dataclasses.replace(spec.settings, **io)
        self.spec = spec

    def __call__(self, rows: dict[str, Any]) -> dict[str, list[str]]:
        tasks = [
            Task(Source(Path(s), PurePosixPath(r)), Path(t))
            for s, r, t in zip(rows["source"], rows["relative"], rows["target"], strict=True)
        ]
        results: list[FileResult] = []
        hashes: dict[str, str] = {}

        def read(path: Path) -> bytes:
            data = self.settings.read(path)
            hashes[str(path)] = hashlib.sha256(data).hexdigest()
            return data

        settings = dataclasses.replace(self.settings, read=read)
        run_pipeline(tasks, self.model, settings, results.append)
        name, record = block_record(self.spec.model_sha256, results, hashes)
        # Without its record, a block is only checked by name on a rerun.
        with contextlib.suppress(UserError):
            self.settings.write(self.spec.records / name, record)
        return {"result": [json.dumps(_encode(r)) for r in results]}


def run_on_ray(
    tasks: Sequence[Task],
    spec: ActorSpec,
    cluster: ClusterSettings,
    on_result: Callable[[FileResult], None],
) -> Stats:
    """Every task's result through ``on_result`` (on the driver, as workers finish them)."""
    stats = Stats()
    images = []
    for task in tasks:
        if is_video_name(task.source.path):
            on_result(_refused(task))
        else:
            images.append(task)
    if images:
        for result in _stream(images, spec, cluster):
            on_result(result)
    return stats


def _model_on_this_node(spec: ActorSpec) -> Path:
    """The model's path here: the driver's where this node sees the same file (a shared
    folder, or the driver's own machine), else a copy from the object store, kept under its
    digest so that the actors of a node share one copy."""
    if spec.model.is_file() or spec.model_bytes is None:
        return spec.model
    import ray

    copy = Path(tempfile.gettempdir()) / "imagexform-models" / spec.model_sha256 / spec.model.name
    if not copy.is_file():
        write_bytes_atomic(copy, ray.get(spec.model_bytes))
    return copy


def _stream(
    tasks: Sequence[Task], spec: ActorSpec, cluster: ClusterSettings
) -> Iterator[FileResult]:
    ray = _connect(cluster)
    spec = dataclasses.replace(spec, model_bytes=ray.put(spec.model.read_bytes()))
    rows = task_rows(tasks)
    # Enough blocks that every actor has work, and a kill costs at most the unfinished ones.
    blocks = max(-(-len(rows) // cluster.batch_size), min(len(rows), cluster.workers))
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    transformed = dataset.map_batches(
        Transformer,
        fn_constructor_args=(spec,),
        batch_size=cluster.batch_size,
        batch_format="numpy",
        concurrency=cluster.workers,
        num_cpus=1,
        num_gpus=cluster.gpus_per_worker or None,
    )
    for row in transformed.iter_rows():
        yield _decode(json.loads(row["result"]))


def task_rows(tasks: Sequence[Task]) -> list[dict[str, str]]:
    """What Ray Data is given per file: three short strings, never the file's bytes."""
    return [
        {"source": str(t.source.path), "relative": str(t.source.relative), "target": str(t.target)}
        for t in tasks
    ]


def _connect(cluster: ClusterSettings) -> Any:
    """The Ray module, connected: to ``cluster.address``, to a Ray this process already
    started, or to a new local one sized for the workers."""
    try:
        import ray
    except ImportError:
        raise UserError(
            "--engine ray needs the cluster extra (pip install imagexform[cluster])"
        ) from None
    if not ray.is_initialized():
        if cluster.address is None:
            ray.init(num_cpus=cluster.workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=cluster.address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False  # ours counts files
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-dataset chatter on stderr
    return ray


def _refused(task: Task) -> FileResult:
    return FileResult(
        source=task.source.path,
        relative=str(task.source.relative),
        target=task.target,
        status="failed",
        error=VIDEO_REFUSAL,
    )


def _encode(result: FileResult) -> dict[str, Any]:
    fields = dataclasses.asdict(result)
    fields["source"] = str(result.source)
    fields["target"] = str(result.target) if result.target is not None else None
    return fields


def _decode(fields: dict[str, Any]) -> FileResult:
    sizes = {k: tuple(fields[k]) if fields[k] else None for k in ("input_size", "output_size")}
    target = Path(fields["target"]) if fields["target"] is not None else None
    return FileResult(**(fields | sizes | {"source": Path(fields["source"]), "target": target}))
