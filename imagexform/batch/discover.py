"""Which files a batch run reads: INPUT as a file, a folder or a glob, filtered by patterns.

Every source gets a path relative to an input root; that relative path names its output, keys
its shard and identifies it in the report, so it must be the same on every machine and run.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from imagexform.errors import UserError
from imagexform.io.images import display_path, list_images
from imagexform.io.video import MEDIA_EXTENSIONS, is_media_name

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    path: Path
    relative: PurePosixPath  # below the input root, always with forward slashes


@dataclass(frozen=True)
class Discovery:
    root: Path  # the folder relative paths start from
    sources: list[Source]


def is_glob(spec: str) -> bool:
    """Whether INPUT is a pattern rather than a path (an existing path always wins)."""
    return bool(_GLOB_CHARS & set(spec)) and not Path(spec).exists()


def input_root(spec: str) -> Path:
    """The folder relative paths start from: the folder itself, a file's folder, or the
    deepest folder a glob names before its first wildcard."""
    path = Path(spec)
    if is_glob(spec):
        parts = path.parts
        fixed = 0
        while fixed < len(parts) - 1 and not _GLOB_CHARS & set(parts[fixed]):
            fixed += 1
        return Path(*parts[:fixed]) if fixed else Path()
    return path if path.is_dir() else path.parent


def discover(
    spec: str,
    recursive: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_tree: Path | None = None,
) -> Discovery:
    """The images and videos INPUT names, sorted by relative path.

    Hidden files and folders, and files whose extension is not an image's (``Thumbs.db``,
    ``.DS_Store``, sidecars), are skipped without a word: they are never what the user meant.
    ``include``/``exclude`` are case-insensitive ``fnmatch`` patterns on the relative path
    (``*`` also crosses ``/``); a file is kept when it matches some include (or there are
    none) and no exclude. ``skip_tree`` (the output folder, when it lies inside the input)
    is never read, so outputs are not fed back in.
    """
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() not in MEDIA_EXTENSIONS:
            raise UserError(
                f"{display_path(path)}: not an image or video file name "
                f"(expected one of {', '.join(MEDIA_EXTENSIONS)})"
            )
        root = path.parent
        found = [path]
    elif path.is_dir():
        root = path
        found = list_images(path, recursive=recursive, accept=is_media_name)
    elif is_glob(spec):
        root = input_root(spec)
        found = _glob(spec, root)
    else:
        raise UserError(f"{display_path(spec)}: no such file or folder")

    skip = skip_tree.resolve() if skip_tree is not None else None
    sources = []
    for file in found:
        relative = PurePosixPath(file.relative_to(root).as_posix())
        if not wanted(str(relative), include, exclude):
            continue
        if skip is not None and file.resolve().is_relative_to(skip):
            continue
        sources.append(Source(file, relative))
    sources.sort(key=lambda s: str(s.relative))
    return Discovery(root, sources)


def _glob(spec: str, root: Path) -> list[Path]:
    """Image files matching a glob (``**`` descends folders), none hidden below ``root``."""
    found = []
    for match in glob.glob(spec, recursive=True):
        file = Path(match)
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if is_media_name(file.name) and file.is_file():
            found.append(file)
    return found


def wanted(relative: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    name = relative.lower()
    if include and not any(fnmatch.fnmatchcase(name, p.lower()) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p.lower()) for p in exclude)
