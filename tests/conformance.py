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

import numpy as np
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


def case_id(case: tuple[str, str | None]) -> str:
    """Test id of a ``(main fixture, variant or None)`` case: the variant's id where given."""
    return case[1] or case[0]


def case_spec(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The fixture folder, the main entry (inputs and outputs) and the entry or variant whose
    state dict the case loads."""
    folder = fixture_dir()
    entry = fixture_entry(manifest, case[0])
    return folder, entry, entry if case[1] is None else variant_entry(entry, case[1])


def load_state(folder: Path, spec: dict[str, Any]) -> Any:
    """A fixture's checkpoint, loaded as every importer loads foreign files: no pickled code."""
    import torch

    return torch.load(folder / spec["state_dict"]["file"], map_location="cpu", weights_only=True)


def fixture_inputs(folder: Path, entry: dict[str, Any]) -> list[Any]:
    import torch

    return [torch.from_numpy(np.load(folder / spec["file"])) for spec in entry["inputs"]]


def run_fixture(net: Any, folder: Path, entry: dict[str, Any]) -> Any:
    """``net`` in eval mode on the fixture's recorded inputs."""
    import torch

    with torch.no_grad():
        return net.eval()(*fixture_inputs(folder, entry))


def assert_matches(out: Any, folder: Path, spec: dict[str, Any]) -> None:
    """``out`` equals a recorded output within the manifest's tolerance."""
    expected = np.load(folder / spec["file"])
    assert tuple(out.shape) == tuple(expected.shape) == tuple(spec["shape"])
    diff = float(np.abs(out.numpy() - expected).max())
    assert diff <= spec["tolerance"]["max_abs_diff"], f"{spec['file']}: max abs diff {diff}"


def assert_checkpoint_hash(manifest: dict[str, Any], case: tuple[str, str | None]) -> None:
    folder, _entry, spec = case_spec(manifest, case)
    assert sha256(folder / spec["state_dict"]["file"]) == spec["state_dict"]["sha256"]
