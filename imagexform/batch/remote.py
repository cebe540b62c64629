"""Batch with INPUT or OUTPUT in an object store: discovery by listing, skip by one listing of
the output, and the byte readers and writers the pipeline uses instead of local files.

Images only: a video is decoded by FFmpeg from a seekable local file, segment by segment, so
videos in a store are left out with a message saying so (copy them locally to convert them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from imagexform.batch.discover import Discovery, Source, wanted
from imagexform.batch.plan import Planned
from imagexform.batch.storage import Location, is_url
from imagexform.errors import UserError
from imagexform.io.images import is_image_name
from imagexform.io.video import is_video_name


@dataclass(frozen=True)
class Stores:
    """The store side of a run: None where that side is a local path."""

    input: Location | None
    output: Location | None


def stores_for(input_spec: str, output_url: str | None) -> Stores | None:
    """The stores a run uses, or None for an all-local run (which then never loads fsspec)."""
    if not is_url(input_spec) and output_url is None:
        return None
    source = Location.open(input_spec) if is_url(input_spec) else None
    target = Location.open(output_url) if output_url is not None else None
    return Stores(source, target)


def discover_objects(
    location: Location, recursive: bool, include: Sequence[str], exclude: Sequence[str]
) -> Discovery:
    """The images below ``location`` as :class:`Source`s keyed by their relative path, the
    same keys (so the same names and shards) that a local copy of the folder would give."""
    sources, videos = [], []
    for path, relative in location.files(recursive):
        if not wanted(str(relative), include, exclude):
            continue
        if is_video_name(path):
            videos.append(relative)
        elif is_image_name(path):
            sources.append(Source(path, relative))
    if videos:
        click.echo(
            f"leaving out {len(videos)} video(s) such as {videos[0]}: videos are converted "
            "from local paths only (copy them out of the store first)",
            err=True,
        )
    sources.sort(key=lambda s: str(s.relative))
    return Discovery(Path(location.root), sources)


def store_io(stores: Stores | None) -> dict[str, Callable[..., object]]:
    """The pipeline's reader and writer (:class:`Settings` fields) for the sides of a run
    that are in a store."""
    io: dict[str, Callable[..., object]] = {}
    if stores and stores.input:
        io["read"] = stores.input.read
    if stores and stores.output:
        io["write"] = stores.output.write
    return io


def skip_existing_objects(
    planned: Sequence[Planned], output: Location, overwrite: bool
) -> list[Planned]:
    """Each target's skip decided by the store's listing rather than the local disk."""
    existing = set() if overwrite else output.existing()
    return [dataclasses.replace(p, skip=p.target.as_posix() in existing) for p in planned]


def check_store_output(output: Location) -> None:
    """Refuse a store that cannot be reached before any work (as a local OUTPUT is probed)."""
    try:
        output.fs.makedirs(output.root, exist_ok=True)
        output.existing()
    except OSError as exc:
        raise UserError(f"{output.url}: cannot use as OUTPUT ({exc})") from None
