"""A file's sha256, read in blocks: the one digest that models, checkpoints and inputs are
named and recognised by (provenance, cached verdicts, completion records)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
