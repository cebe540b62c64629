"""Where measured verdicts about a model are kept (int8 files, session settings), and the keys
that make a verdict valid only for the same file on the same kind of machine."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnxruntime as ort

CACHE_ENV = "IMAGEXFORM_CACHE_DIR"


def cache_dir() -> Path:
    """``$IMAGEXFORM_CACHE_DIR`` or the user's cache folder."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("imagexform"))


def machine_key() -> str:
    """A short hash of what makes a speed measurement hold: CPU model, core count and the
    ONNX Runtime version (its kernels change between releases)."""
    parts = [_cpu_model(), str(os.cpu_count()), platform.machine(), ort.__version__]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor()
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def read_record(path: Path) -> dict[str, Any] | None:
    """A JSON object written by :func:`write_record`; None when missing or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return dict(record) if isinstance(record, Mapping) else None


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    """Written under a temporary name and renamed, so a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temp, path)
