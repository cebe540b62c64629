"""The catalog, the model folder, and fetching: download, verify, pin, convert, install."""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import logging
import os
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from imagexform.catalog.download import check_url, download
from imagexform.errors import UserError

log = logging.getLogger(__name__)

# The models shipped in the source tree (a checkout or an editable install).
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
CATALOG_ENV = "IMAGEXFORM_CATALOG"  # another catalog file (tests, private mirrors)
HOME_ENV = "IMAGEXFORM_HOME"  # moves the model folder (tests, portable setups)
Progress = Callable[[int, int], None]  # bytes done, bytes expected (0 when unknown)


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


def _pins_file() -> Path:
    return home() / "pins.json"


def pins() -> dict[str, dict[str, object]]:
    try:
        return json.loads(_pins_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def hash_status(entry: Entry, pinned: dict[str, dict[str, object]]) -> str:
    """How a download of ``entry`` is checked; ``pinned`` is :func:`pins`."""
    if entry.sha256:
        return "published"
    if entry.name in pinned:
        return "pinned"
    return "pin on first download"


def fetch(
    name: str,
    progress: Progress | None = None,
    file: Path | None = None,
    keep_checkpoint: bool = False,
) -> Path:
    """The installed ONNX model for catalog entry ``name``, made on first use (from ``file``
    when the entry has no plain download).

    ``progress(done, total)`` hears of every downloaded chunk and may raise to stop: the
    partial download stays and the next call resumes it. Nothing is installed until the file
    is verified and converted.
    """
    entry = find(name)
    target = onnx_path(entry)
    if target.is_file():
        return target
    if file is not None:
        checkpoint = _verified(entry, file.read_bytes(), str(file))
    elif entry.manual:
        raise UserError(f"{entry.name}: {entry.manual}")
    else:
        check_url(entry.url)
        part = download(entry.url, part_path(entry), progress)
        try:
            checkpoint = _verified(entry, part.read_bytes(), entry.url)
        except UserError:
            part.unlink(missing_ok=True)  # a wrong file is not resumed
            raise
    installed = _convert(entry, checkpoint, target, keep_checkpoint)
    if file is None:
        part_path(entry).unlink(missing_ok=True)
    return installed


def installed_files(name: str) -> list[Path]:
    """The model folder's files for ``name``: its ONNX model and any kept checkpoint."""
    folder = model_folder()
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and path.stem == name)


def remove(name: str) -> list[Path]:
    """Delete an installed model (and its kept checkpoint); return what was deleted."""
    found = installed_files(name)
    if not found:
        raise UserError(f"{name}: not installed in {model_folder()} (see imagexform models list)")
    for path in found:
        path.unlink()
    return found


def _verified(entry: Entry, data: bytes, source: str) -> bytes:
    """The checkpoint bytes (taken out of the zip where the entry says so), checked against
    the published or pinned size and hash; a first download pins them."""
    if entry.archive_member:
        data = _member(data, entry.archive_member, source)
    digest = hashlib.sha256(data).hexdigest()
    pinned = pins()
    expected = entry.sha256 or str(pinned.get(entry.name, {}).get("sha256", ""))
    size = entry.size or int(pinned.get(entry.name, {}).get("size", 0))
    if size and len(data) != size:
        raise UserError(f"{source}: {len(data)} bytes, expected {size}; discarded")
    if expected and digest != expected:
        raise UserError(f"{source}: sha256 {digest} does not match {expected}; discarded")
    if not expected:
        recorded = {**pinned, entry.name: {"sha256": digest, "size": len(data)}}
        _write_atomic(_pins_file(), json.dumps(recorded, indent=2, sort_keys=True).encode())
    return data


def _member(data: bytes, member: str, source: str) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UserError(f"{source}: not a zip archive; discarded") from None
    matches = [info for info in archive.infolist() if Path(info.filename).name == member]
    if not matches:
        raise UserError(f"{source}: the archive has no {member}; discarded")
    return archive.read(matches[0])


def _convert(entry: Entry, checkpoint: bytes, target: Path, keep_checkpoint: bool) -> Path:
    import importlib.util
    import tempfile

    if importlib.util.find_spec("torch") is None:
        raise UserError(
            f"{entry.name}: converting a published checkpoint needs torch; "
            "pip install 'imagexform[train]' (once converted, the model runs without it)"
        )
    from imagexform.export.sources import import_foreign

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{target.parent}: cannot create the model folder ({exc})") from None
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as work:
        source = Path(work) / (entry.archive_member or urlname(entry.url))
        source.write_bytes(checkpoint)
        import_foreign(source, target, overrides=entry.set)
        if keep_checkpoint:
            os.replace(source, checkpoint_path(entry))
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
