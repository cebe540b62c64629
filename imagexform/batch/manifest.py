"""Completion records of a cluster run: which inputs, by content, a model has finished.

Every Ray batch (a block of files) ends by writing one record under the output,
``.imagexform-done/<model sha256>/<block>.json``, listing for each file its relative path, the
sha256 of the input bytes it read, its output and status. A record is written (atomically)
only after its outputs are in place, so on a rerun the driver trusts it: files a record of
*this model* lists as done, from inputs with the same relative path, are skipped without
asking the store about each output, and a killed job costs only its unfinished blocks.
The content hashes say exactly which input bytes each output came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imagexform.batch.report import FileResult
from imagexform.batch.storage import Location
from imagexform.errors import UserError
from imagexform.io.images import read_file_bytes

RECORDS = ".imagexform-done"
RECORDED = "done (completion record)"
_CHUNK = 1 << 20


def records_folder(output_root: Path, model_sha256: str) -> Path:
    return output_root / RECORDS / model_sha256


@dataclass(frozen=True)
class Entry:
    relative: str
    input_sha256: str | None  # None when the input could not be read
    output: str | None
    status: str


def block_record(
    model_sha256: str, results: Sequence[FileResult], hashes: dict[str, str]
) -> tuple[str, bytes]:
    """The name and JSON bytes of one block's record; ``hashes`` maps each input path to the
    sha256 of the bytes the pipeline read. The name is a digest of the block's files, so a
    block redone after a crash replaces its record instead of adding one."""
    entries = [
        Entry(r.relative, hashes.get(str(r.source)), str(r.target) if r.target else None, r.status)
        for r in sorted(results, key=lambda r: r.relative)
    ]
    name = hashlib.sha256("\n".join(e.relative for e in entries).encode()).hexdigest()[:20]
    body = {"model_sha256": model_sha256, "files": [e.__dict__ for e in entries]}
    return f"{name}.json", json.dumps(body, ensure_ascii=False).encode("utf-8")


def record_names(folder: Path, location: Location | None) -> list[Path]:
    """The completion records in ``folder``, on disk or in ``location``'s store."""
    if location is None:
        return sorted(folder.glob("*.json"))
    location.fs.invalidate_cache()
    try:
        listed = location.fs.ls(folder.as_posix(), detail=False)
    except FileNotFoundError:
        return []
    return sorted(Path(name) for name in listed if name.endswith(".json"))


def mark_recorded(
    skipped: Sequence[FileResult], folder: Path, location: Location | None, model_sha256: str
) -> list[FileResult]:
    """``skipped`` (by name), the files a completion record of this model lists as done
    saying so, on disk or in ``location``'s store."""
    read = location.read if location is not None else read_file_bytes
    done = completed(record_names(folder, location), read, model_sha256)
    return [dataclasses.replace(r, error=RECORDED) if r.relative in done else r for r in skipped]


def completed(
    names: Sequence[Path], read: Callable[[Path], bytes], model_sha256: str
) -> dict[str, Entry]:
    """Relative path → entry of every file the records ``names`` list as done by this model;
    an unreadable record (none are partial, but one may be damaged) only costs a redo."""
    done: dict[str, Entry] = {}
    for name in names:
        try:
            body = json.loads(read(name))
        except (OSError, ValueError, UserError):
            continue
        if body.get("model_sha256") != model_sha256:
            continue
        for fields in body.get("files", []):
            entry = Entry(**fields)
            if entry.status == "ok":
                done[entry.relative] = entry
    return done
