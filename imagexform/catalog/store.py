"""The catalog, the model folder, and fetching: download, verify, pin, convert, install."""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

from imagexform.catalog.download import check_url, download, exclusive
from imagexform.convert.conversion import (
    TRAIN_EXTRA,
    convert_checkpoint,
    torch_installed,
)
from imagexform.errors import UserError

log = logging.getLogger(__name__)

# The models shipped in the source tree (a checkout or an editable install).
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
CATALOG_ENV = "IMAGEXFORM_CATALOG"  # another catalog file (tests, private mirrors)
HOME_ENV = "IMAGEXFORM_HOME"  # moves the model folder (tests, portable setups)
Progress = Callable[[int, int], None]  # bytes done, bytes expected (0 when unknown)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a name becomes a file name


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    task: str
    url: str
    license: str = ""
    citation: str = ""
    source_note: str = ""
    archive_member: str = ""  # the checkpoint's file name inside a zip download
    manual: str = ""  # how to get the file when no plain download exists
    size: int = 0  # bytes, when the publisher states it
    sha256: str = ""  # when the publisher states it
    set: dict[str, str] = field(default_factory=dict)  # importer settings (--set)
    # the graph template that converts the file without torch (imagexform.convert); empty
    # when its architecture has none and converting needs the training extra
    template: str = ""
    plugin: str = ""  # the plugin that added the entry; empty for the shipped catalog

    @property
    def checkpoint_suffix(self) -> str:
        name = self.archive_member or urlname(self.url)
        return Path(name).suffix or ".pth"


def urlname(url: str) -> str:
    return Path(url.split("?")[0]).name


def catalog_file() -> Path:
    return Path(os.environ.get(CATALOG_ENV) or Path(__file__).with_name("catalog.toml"))


def entries() -> list[Entry]:
    """The shipped catalog (or ``$IMAGEXFORM_CATALOG``) followed by what plugins add through
    the ``imagexform_catalog_entries`` hook; on a name clash the shipped entry wins."""
    path = catalog_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: unreadable catalog ({exc})") from None
    found = [_entry(item, str(path)) for item in raw.get("model", [])]
    names = {entry.name for entry in found}
    for plugin, items in _plugin_entries():
        for item in items:
            try:
                entry = _entry({**item, "plugin": plugin}, f"plugin {plugin}")
            except UserError as exc:
                log.warning("%s", exc)
                continue
            if entry.name in names:
                log.warning("plugin %s: catalog entry %r exists; ignored", plugin, entry.name)
                continue
            names.add(entry.name)
            found.append(entry)
    return found


def _entry(item: Mapping[str, Any], source: str) -> Entry:
    known = {f.name for f in fields(Entry)}
    unknown = sorted(set(item) - known)
    missing = [name for name in ("name", "family", "task", "url") if not item.get(name)]
    if unknown or missing:
        problem = f"unknown key(s) {', '.join(unknown)}" if unknown else ""
        problem += ("; " if problem else "") + (f"missing {', '.join(missing)}" if missing else "")
        raise UserError(f"{source}: catalog entry {item.get('name', '?')!r}: {problem}")
    if not NAME_PATTERN.fullmatch(str(item["name"])):
        raise UserError(
            f"{source}: catalog entry {item['name']!r}: a name is letters, digits, '.', '_' "
            "and '-', starting with a letter or digit (it becomes a file name)"
        )
    return Entry(**{**item, "set": {k: str(v) for k, v in dict(item.get("set", {})).items()}})


def _plugin_entries() -> Iterable[tuple[str, list[Mapping[str, Any]]]]:
    from imagexform.plugins import host

    return host().catalog_entries()


def find(name: str) -> Entry:
    known = {entry.name: entry for entry in entries()}
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see imagexform models list"
    raise UserError(f"no model named {name!r} in the catalog{hint}")


def home() -> Path:
    """imagexform's data folder: the user's models, downloads in progress, the pins."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_data_dir("imagexform"))


def model_folder() -> Path:
    """Where converted catalog models go and where the editor looks for the user's models."""
    return home() / "models"


def onnx_path(entry: Entry) -> Path:
    return model_folder() / f"{entry.name}.onnx"


def checkpoint_path(entry: Entry) -> Path:
    """Where ``--keep-checkpoint`` keeps the verified release file."""
    return model_folder() / f"{entry.name}{entry.checkpoint_suffix}"


def part_path(entry: Entry) -> Path:
    """The download in progress, resumed by the next attempt."""
    return home() / "downloads" / f"{entry.name}-{urlname(entry.url)}.part"


def lock_path(entry: Entry) -> Path:
    """Held while one process fetches ``entry``, so two never write one ``.part`` (see
    :func:`imagexform.catalog.download.exclusive`)."""
    return home() / "downloads" / f"{entry.name}.lock"


def _pins_file() -> Path:
    return home() / "pins.json"


def pins() -> dict[str, dict[str, object]]:
    """The sizes and hashes pinned by first downloads; a damaged file is named, not guessed
    around, since silently dropping pins would let a changed release through."""
    path = _pins_file()
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable pins file ({exc}); fix or delete it") from None
    if not isinstance(recorded, dict):
        raise UserError(f"{path}: unreadable pins file (not a JSON object); fix or delete it")
    return recorded


def _pin(name: str, digest: str, size: int) -> None:
    """Record ``name``'s first verified download. Under a lock, so two pulls of different
    models never drop each other's pin in the read-modify-write."""
    with exclusive(home() / "pins.lock", "the pins file", wait=True):
        recorded = {**pins(), name: {"sha256": digest, "size": size}}
        _write_atomic(_pins_file(), json.dumps(recorded, indent=2, sort_keys=True).encode())


def hash_status(entry: Entry, pinned: dict[str, dict[str, object]]) -> str:
    """How a download of ``entry`` is checked; ``pinned`` is :func:`pins`."""
    if entry.sha256:
        return "published"
    if entry.name in pinned:
        return "pinned"
    return "unpinned"  # the first download pins it


def fetch(
    name: str,
    progress: Progress | None = None,
    file: Path | None = None,
    keep_checkpoint: bool = False,
) -> Path:
    """The installed ONNX model for catalog entry ``name``, made on first use (from ``file``
    when the entry has no plain download, or the user already has the release file).

    ``progress(done, total)`` hears of every downloaded chunk and may raise to stop (the
    editor's Cancel): the partial download stays, the next call resumes it, and nothing else
    is written. The release file is verified before the importer opens it, and the model is
    only installed once fully converted, so a failure never leaves a half-made model.
    """
    entry = find(name)
    target = onnx_path(entry)
    if target.is_file():
        return target
    if not entry.template and not torch_installed():  # before a download it could not use
        raise UserError(
            f"{entry.name}: no graph template converts this architecture without torch; "
            f"{TRAIN_EXTRA} (once converted, the model runs without it)"
        )
    if file is None:
        if entry.manual:
            raise UserError(f"{entry.name}: {entry.manual}")
        check_url(entry.url)  # a refused address writes nothing, not even the lock
    with exclusive(lock_path(entry), entry.name):
        if target.is_file():  # made by the process that held the lock before us
            return target
        return _fetch(entry, target, progress, file, keep_checkpoint)


class _ImportFailed(UserError):
    """The importer refused the checkpoint: the release itself is bad, not our disk."""


def _fetch(
    entry: Entry, target: Path, progress: Progress | None, file: Path | None, keep: bool
) -> Path:
    pinned = pins()  # a damaged pins file stops us before any download
    if file is not None:
        release, source, part = Path(file), str(file), None
    else:
        part = download(entry.url, part_path(entry), progress)
        release, source = part, entry.url
    try:
        unpinned = _verify(entry, release, source, pinned)
    except UserError as exc:
        if part is None:
            raise UserError(f"{exc}; not used") from None
        part.unlink(missing_ok=True)  # a wrong file is not resumed
        raise UserError(f"{exc}; deleted the download {part}") from None
    try:
        _convert(entry, release, target, source, keep_checkpoint=keep)
    except _ImportFailed as exc:
        if part is None:
            raise UserError(f"{exc}; not used") from None
        if unpinned is None:
            raise UserError(f"{exc}; kept the download {part}") from None
        part.unlink(missing_ok=True)  # never pinned: the next try downloads afresh
        raise UserError(f"{exc}; deleted the download {part}") from None
    if unpinned is not None:
        try:
            _pin(entry.name, *unpinned)
        except UserError as exc:
            _uninstall(entry, target, keep)
            kept = f"; kept the verified download {part}" if part is not None else ""
            raise UserError(f"{exc}{kept}; run the same command again") from None
    if part is not None:
        part.unlink(missing_ok=True)
    return target


def _uninstall(entry: Entry, target: Path, keep: bool) -> None:
    """Take back a model whose release could not be pinned: an installed model is never
    fetched again, so it would stay unpinned for good."""
    target.unlink(missing_ok=True)
    if keep:
        checkpoint_path(entry).unlink(missing_ok=True)


def installed_files(name: str, entry: Entry | None = None) -> list[Path]:
    """The model folder's files for ``name``: its ONNX model and, for a catalog entry (looked
    up unless given), the checkpoint ``--keep-checkpoint`` kept. Nothing else: other files
    may share the stem."""
    if not NAME_PATTERN.fullmatch(name):
        return []
    candidates = [model_folder() / f"{name}.onnx"]
    if entry is None:
        entry = {known.name: known for known in entries()}.get(name)
    if entry is not None:
        candidates.append(checkpoint_path(entry))
    return sorted(path for path in candidates if path.is_file())


def remove(name: str) -> list[Path]:
    """Delete an installed model (and its kept checkpoint); return what was deleted."""
    found = installed_files(name)
    if not found:
        raise UserError(f"{name}: not installed in {model_folder()} (see imagexform models list)")
    for path in found:
        path.unlink()
    return found


def _verify(
    entry: Entry, release: Path, source: str, pinned: dict[str, dict[str, object]]
) -> tuple[str, int] | None:
    """Check the checkpoint in ``release`` (the zip member where the entry names one) against
    the published or pinned size and sha256. Return its (sha256, size) when there is nothing
    to check against: the caller pins them once the checkpoint has converted, so a bad first
    download is never pinned."""
    with _opened_checkpoint(entry, release, source) as stream:
        digest, size = _digest(stream)
    kind = "published" if entry.sha256 else "pinned"
    expected = entry.sha256 or str(pinned.get(entry.name, {}).get("sha256", ""))
    expected_size = entry.size or int(pinned.get(entry.name, {}).get("size", 0))
    if expected_size and size != expected_size:
        raise UserError(f"{source}: {size} bytes, expected {expected_size}")
    if expected and digest != expected:
        raise UserError(f"{source}: sha256 {digest} does not match the {kind} {expected}")
    return None if expected else (digest, size)


@contextmanager
def _opened_checkpoint(entry: Entry, release: Path, source: str) -> Iterator[BinaryIO]:
    """The checkpoint's bytes as a stream: the file itself, or its member of a zip release."""
    if not entry.archive_member:
        with release.open("rb") as stream:
            yield stream
        return
    try:
        archive = zipfile.ZipFile(release)
    except zipfile.BadZipFile:
        raise UserError(f"{source}: not a zip archive") from None
    try:
        with archive:
            names = [i for i in archive.infolist() if Path(i.filename).name == entry.archive_member]
            if not names:
                raise UserError(f"{source}: the archive has no {entry.archive_member}")
            with archive.open(names[0]) as stream:
                yield stream
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged member
        raise UserError(f"{source}: damaged zip archive ({exc})") from None


def _digest(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _convert(
    entry: Entry, release: Path, target: Path, source: str, *, keep_checkpoint: bool
) -> None:
    """Import the verified ``release`` and install its ONNX export at ``target``.

    The export is written in a scratch folder beside ``target`` and moved in when complete;
    ``release`` is only read (the caller drops its own download). An importer's complaint
    names ``source`` (the URL or the user's file), not the scratch copy it read, which is
    gone by the time anyone reads the message.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    except OSError as exc:
        raise UserError(
            f"{target.parent}: cannot write to the model folder ({exc.strerror or exc})"
        ) from None
    try:
        checkpoint = work / (entry.archive_member or urlname(entry.url))
        with (
            _opened_checkpoint(entry, release, source) as stream,
            _writing(checkpoint) as out,
        ):
            shutil.copyfileobj(stream, out, 1 << 20)
        export = work / target.name
        try:
            _converted(entry, checkpoint, export)
        except UserError as exc:
            problem = str(exc).replace(str(checkpoint), source)
            raise _ImportFailed(f"{entry.name}: {problem}") from None
        if keep_checkpoint:
            os.replace(checkpoint, checkpoint_path(entry))
        os.replace(export, target)
    except OSError as exc:  # a full disk while exporting, a folder changed under us
        where = exc.filename or target.parent
        raise UserError(f"{where}: cannot write the model ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _converted(entry: Entry, checkpoint: Path, export: Path) -> None:
    """Convert through the entry's graph template (seconds, no torch); when the file does
    not fit it and torch is installed, through the torch import instead."""
    title = f"{entry.name}: {entry.task}"
    if entry.template:
        try:
            convert_checkpoint(
                checkpoint,
                export,
                overrides=entry.set,
                title=title,
                family_name=entry.family,
                template_name=entry.template,
            )
            return
        except UserError:  # the torch import reads more (any importer, any --set)
            if not torch_installed():
                raise
    from imagexform.export.sources import import_foreign

    import_foreign(checkpoint, export, overrides=entry.set, title=title, family_name=entry.family)


@contextmanager
def _writing(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for writing; a failure (full disk, no permission) is one line naming it."""
    try:
        with path.open("wb") as out:
            yield out
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` whole, so a reader (or a crash) never sees half a pins file."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        temporary = Path(name)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None
