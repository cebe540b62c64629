"""The catalog file, the cache, and fetching: download, verify, pin, convert, cache."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imagexform.catalog.download import download
from imagexform.errors import UserError

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


def catalog_file() -> Path:
    return Path(os.environ.get(CATALOG_ENV) or Path(__file__).with_name("catalog.toml"))


def entries() -> list[Entry]:
    path = catalog_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: unreadable catalog ({exc})") from None
    return [Entry(**{**item, "set": dict(item.get("set", {}))}) for item in raw.get("model", [])]


def find(name: str) -> Entry:
    known = {entry.name: entry for entry in entries()}
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see imagexform models list"
    raise UserError(f"no model named {name!r} in the catalog{hint}")


def home() -> Path:
    """imagexform's data folder: the user's models and the catalog's pins."""
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


def fetch(name: str, progress: Progress | None = None, file: Path | None = None) -> Path:
    """The cached ONNX model for catalog entry ``name``, made on first use (from ``file``
    when the entry has no plain download)."""
    entry = find(name)
    target = onnx_path(entry)
    if target.is_file():
        return target
    if file is not None:
        checkpoint = _verified(entry, file.read_bytes(), str(file))
    elif entry.manual:
        raise UserError(f"{entry.name}: {entry.manual}")
    else:
        data = download(entry.url, progress)
        checkpoint = _verified(entry, data, entry.url)
    return _convert(entry, checkpoint, target)


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
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UserError(f"{source}: not a zip archive") from None
    matches = [info for info in archive.infolist() if Path(info.filename).name == member]
    if not matches:
        raise UserError(f"{source}: the archive has no {member}")
    return archive.read(matches[0])


def _convert(entry: Entry, checkpoint: bytes, target: Path) -> Path:
    import importlib.util
    import tempfile

    if importlib.util.find_spec("torch") is None:
        raise UserError(
            f"{entry.name}: converting a published checkpoint needs torch; "
            "pip install 'imagexform[train]' (once converted, the model runs without it)"
        )
    from imagexform.export.sources import import_foreign

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as work:
        source = Path(work) / (entry.archive_member or Path(entry.url.split("?")[0]).name)
        source.write_bytes(checkpoint)
        import_foreign(source, target, overrides=entry.set)
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
