"""Where each source's output goes, and whether this run (this shard) writes it.

Names are decided over the whole discovered set before sharding, so every machine of a
sharded run, and every rerun, derives the same output path for the same input.
"""

from __future__ import annotations

import hashlib
import os
import string
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from imagexform.errors import UserError

if TYPE_CHECKING:  # the CLI imports this module for its defaults; discovery pulls in OpenCV
    from imagexform.batch.discover import Source

# What --format names, and the extension its files get.
FORMATS: Mapping[str, str] = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif"}
NAME_FIELDS = ("stem", "model", "ext", "family", "scale")
DEFAULT_NAME = "{stem}{ext}"
DEFAULT_QUALITY = 95


@dataclass(frozen=True)
class Planned:
    source: Source
    target: Path
    skip: bool  # the output exists and --overwrite was not given


def check_template(template: str) -> None:
    """Refuse a bad ``--name`` before any work: unknown fields, or a name that would not end
    in the extension that picks the encoder."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as exc:
        raise UserError(f"--name {template!r}: {exc}") from None
    unknown = sorted(set(fields) - set(NAME_FIELDS))
    if unknown:
        raise UserError(
            f"--name {template!r}: unknown field {{{unknown[0]}}} "
            f"(fields: {', '.join('{' + f + '}' for f in NAME_FIELDS)})"
        )
    if not template.endswith("{ext}"):
        raise UserError(f"--name {template!r} must end with {{ext}}, which sets the format")


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 ≤ K ≤ N) as (K, N)."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise UserError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise UserError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_index(relative: PurePosixPath, count: int) -> int:
    """The 0-based shard a source belongs to: a hash of its relative path, so machines agree
    without talking to each other and adding files never moves existing ones."""
    digest = hashlib.sha256(os.fsencode(str(relative))).digest()
    return int.from_bytes(digest[:8], "big") % count


def plan(
    sources: Sequence[Source],
    output: Path,
    *,
    template: str = DEFAULT_NAME,
    output_format: str = "same",
    fields: Mapping[str, object],
    flatten: bool = False,
    overwrite: bool = False,
    shard: tuple[int, int] = (1, 1),
    video_suffix: Callable[[Path], str | None] | None = None,
) -> list[Planned]:
    """Targets for this shard's sources, in source order.

    Outputs that would share a name (``a/x.jpg`` and ``b/x.jpg`` under ``--flatten``, or
    ``x.png`` and ``x.jpg`` with ``--format png``, compared case-insensitively for macOS and
    Windows volumes) each get ``_`` and a short hash of their source path appended to the
    stem. Sources may be targets only of themselves (``--overwrite-inputs``).
    ``video_suffix(path)`` gives a video's output extension (None for an image).
    """
    relative_targets = [
        _target(s, template, output_format, fields, flatten, video_suffix) for s in sources
    ]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, relative in enumerate(relative_targets):
        groups[str(relative).casefold()].append(index)
    source_keys = {str(_real(s.path)).casefold(): i for i, s in enumerate(sources)}
    for index, relative in enumerate(relative_targets):
        clash = len(groups[str(relative).casefold()]) > 1
        owner = source_keys.get(str(_real(output / relative)).casefold(), index)
        if clash or owner != index:
            relative_targets[index] = _disambiguate(relative, sources[index].relative)

    k, n = shard
    planned = []
    for index, source in enumerate(sources):
        if n > 1 and shard_index(source.relative, n) != k - 1:
            continue
        target = output / relative_targets[index]
        is_self = _real(target) == _real(source.path)
        skip = not overwrite and not is_self and os.path.lexists(target)
        planned.append(Planned(source, target, skip))
    return planned


def output_extension(
    source: Source, output_format: str, video_suffix: Callable[[Path], str | None] | None = None
) -> str:
    suffix = video_suffix(source.path) if video_suffix is not None else None
    if suffix is not None:
        return suffix
    if output_format == "same":
        return source.path.suffix
    return FORMATS[output_format]


def _target(
    source: Source,
    template: str,
    output_format: str,
    fields: Mapping[str, object],
    flatten: bool,
    video_suffix: Callable[[Path], str | None] | None,
) -> PurePosixPath:
    name = template.format(
        **fields,
        stem=source.path.stem,
        ext=output_extension(source, output_format, video_suffix),
    )
    if "/" in name or os.sep in name or name in ("", ".", ".."):
        raise UserError(f"--name {template!r} gives {name!r} for {source.relative}: not a name")
    return PurePosixPath(name) if flatten else source.relative.parent / name


def _disambiguate(relative: PurePosixPath, source: PurePosixPath) -> PurePosixPath:
    tag = hashlib.sha256(os.fsencode(str(source))).hexdigest()[:8]
    return relative.with_name(f"{relative.stem}_{tag}{relative.suffix}")


def _real(path: Path) -> Path:
    """Links resolved, so an output folder that links into the input is caught."""
    return Path(os.path.realpath(path))
