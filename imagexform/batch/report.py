"""Per-file outcomes and the JSON report a run leaves behind.

The report is for whoever checks a large run afterwards (or a script that retries failures),
so it records for every file what happened and why, plus the totals and timing that tell
whether the model was kept busy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imagexform.errors import UserError
from imagexform.io.images import (
    ImageReadError,
    ImageWriteError,
    display_path,
    write_bytes_atomic,
)

REPORT_VERSION = 1
Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class FileResult:
    source: Path
    relative: str  # printable (see display_path), the report's key for the file
    target: Path | None
    status: Status
    seconds: float = 0.0  # decode + model + encode for this file, without queue waits
    bytes_in: int | None = None
    bytes_out: int | None = None
    input_size: tuple[int, int] | None = None  # (width, height), upright
    output_size: tuple[int, int] | None = None
    error: str | None = None
    video: Mapping[str, Any] | None = None  # frames, fps, codec, resumed… (batch/video.py)
    tiling: str | None = None  # "untiled", or the tiles and statistics a large photo ran in

    def to_dict(self) -> dict[str, Any]:
        entry = {
            "input": display_path(self.source),
            "relative": self.relative,
            "output": display_path(self.target) if self.target is not None else None,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "input_size": list(self.input_size) if self.input_size else None,
            "output_size": list(self.output_size) if self.output_size else None,
            "error": self.error,
            "tiling": self.tiling,
        }
        return entry | ({"video": dict(self.video)} if self.video is not None else {})


def describe_error(exc: BaseException) -> str:
    """One line for the report and the failure list; the path is already beside it, so
    errors that carry their own path give only the problem."""
    if isinstance(exc, ImageReadError | ImageWriteError):
        return exc.problem
    if isinstance(exc, UserError):
        return str(exc)
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"


def totals(results: Iterable[FileResult], wall_seconds: float) -> dict[str, Any]:
    results = list(results)
    counts = {status: sum(r.status == status for r in results) for status in _STATUSES}
    done = [r for r in results if r.status == "ok"]
    return {
        "files": len(results),
        **counts,
        "bytes_in": sum(r.bytes_in or 0 for r in done),
        "bytes_out": sum(r.bytes_out or 0 for r in done),
        "megapixels_in": round(sum(_area(r.input_size) for r in done) / 1e6, 3),
        "images_per_second": round(len(done) / wall_seconds, 3) if wall_seconds > 0 else None,
    }


def build_report(
    results: Iterable[FileResult],
    *,
    input_spec: str,
    output: Path | str,
    model: Mapping[str, Any],
    settings: Mapping[str, Any],
    timing: Mapping[str, float],
    interrupted: bool = False,
) -> dict[str, Any]:
    results = sorted(results, key=lambda r: r.relative)
    return {
        "version": REPORT_VERSION,
        "input": input_spec,
        "output": display_path(output),
        "model": dict(model),
        "settings": dict(settings),
        "interrupted": interrupted,
        "totals": totals(results, timing.get("wall_seconds", 0.0)),
        "timing": {key: round(value, 4) for key, value in timing.items()},
        "files": [r.to_dict() for r in results],
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Written atomically: a report that exists is complete."""
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8", "backslashreplace"))


_STATUSES: tuple[Status, ...] = ("ok", "skipped", "failed")


def _area(size: tuple[int, int] | None) -> int:
    return size[0] * size[1] if size else 0
