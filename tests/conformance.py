"""Where the shared conformance fixtures are: reference checkpoints with expected outputs.

They live beside the repository (``../shared/conformance``), not in it, because they are
tens of megabytes. CI has them; a clone elsewhere may not, and then the tests that need them
skip rather than fail. Set ``IMAGEXFORM_CONFORMANCE_DIR`` to use another copy.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

ENV_VAR = "IMAGEXFORM_CONFORMANCE_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def fixture_dir() -> Path:
    """The fixture folder; skips the calling test when it is absent."""
    folder = Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)
    if not (folder / "MANIFEST.json").is_file():
        pytest.skip(f"conformance fixtures not found at {folder} (set {ENV_VAR})")
    return folder


def load_manifest() -> dict[str, Any]:
    return json.loads((fixture_dir() / "MANIFEST.json").read_text(encoding="utf-8"))


def fixture_entry(manifest: dict[str, Any], fixture_id: str) -> dict[str, Any]:
    """The manifest entry of a main fixture, by id."""
    for entry in manifest["fixtures"]:
        if entry["id"] == fixture_id:
            return entry
    raise KeyError(f"{fixture_id} is not in MANIFEST.json")


def variant_entry(entry: dict[str, Any], variant_id: str) -> dict[str, Any]:
    for variant in entry["variants"]:
        if variant["id"] == variant_id:
            return variant
    raise KeyError(f"{variant_id} is not a variant of {entry['id']}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
