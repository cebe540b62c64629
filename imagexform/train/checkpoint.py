"""Self-describing, crash-safe checkpoints.

Layout of a run directory::

    RUN/checkpoints/step_00001000/   weights.safetensors  all networks, keys "<net>.<param>"
                                     ema.safetensors      EMA copies (when EMA is on)
                                     state.safetensors    optimizer/scaler/RNG tensors
                                     state.json           ...and the tree around them
                                     meta.json            family, plugin, config, step, versions
    RUN/checkpoints/latest           name of the newest complete checkpoint
    RUN/checkpoints/best             name of the checkpoint with the best FID/KID (when measured)

A save is written into a temporary directory and renamed into place, and ``latest`` is replaced
atomically afterwards, so a crash at any moment leaves the previous checkpoint intact and never
a half-written one under a final name. Nothing is unpickled on load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from imagexform.errors import CheckpointError
from imagexform.train.state import load_state, save_state

FORMAT_VERSION = 1
LOCAL_PATHS = "local_paths"  # meta entries stored relative to the checkpoint folder
CHECKPOINTS = "checkpoints"
LATEST = "latest"
BEST = "best"
WEIGHTS, EMA, STATE_TENSORS, STATE_TREE, META = (
    "weights.safetensors",
    "ema.safetensors",
    "state.safetensors",
    "state.json",
    "meta.json",
)
REQUIRED_FILES = (WEIGHTS, STATE_TENSORS, STATE_TREE, META)
_STEP_DIR = re.compile(r"^step_(\d+)$")


@dataclass
class Checkpoint:
    """A loaded checkpoint: metadata, network weights by net name, and the training state."""

    path: Path
    meta: dict[str, Any]
    weights: dict[str, dict[str, torch.Tensor]]
    ema: dict[str, dict[str, torch.Tensor]]
    state: dict[str, Any]

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    def weights_for(self, net: str, prefer_ema: bool = True) -> dict[str, torch.Tensor] | None:
        """A network's weights: the averaged ones when kept and preferred, else the raw ones."""
        if prefer_ema and net in self.ema:
            return self.ema[net]
        return self.weights.get(net)


def mismatch_summary(error: RuntimeError, limit: int = 240) -> str:
    """The informative part of a ``load_state_dict`` error (its first line only names the
    class): which keys are missing or unexpected, or which shapes differ, shortened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else lines[0]
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def _flatten_nets(nets: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {
        f"{net}.{key}": tensor.detach().cpu().contiguous()
        for net, state in nets.items()
        for key, tensor in state.items()
    }


def _split_nets(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    nets: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        net, _, param = key.partition(".")
        nets.setdefault(net, {})[param] = tensor
    return nets


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    run_dir: Path,
    *,
    step: int,
    meta: dict[str, Any],
    weights: dict[str, dict[str, torch.Tensor]],
    ema: dict[str, dict[str, torch.Tensor]],
    state: dict[str, Any],
    keep_last: int,
    best: bool = False,
    local_paths: Iterable[str] = (),
) -> Path:
    """Write a checkpoint atomically, point ``latest`` (and with ``best``, ``best``) at it and
    prune old ones; the best one is never pruned.

    ``local_paths`` names the meta entries (``"data_root"``, ``"config.style_image"``) that
    are files or folders of this machine: they are stored relative to the checkpoint's own
    folder, so its metadata names no absolute path (a run copied with its data elsewhere
    still resumes), and :func:`load_checkpoint` makes them whole again."""
    root = run_dir / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=root))
    try:
        save_file(_flatten_nets(weights), str(staging / WEIGHTS))
        if ema:
            save_file(_flatten_nets(ema), str(staging / EMA))
        save_state(state, staging / STATE_TENSORS, staging / STATE_TREE)
        meta = _with_paths(meta, local_paths, lambda value: _relative(value, final))
        full_meta = {"format_version": FORMAT_VERSION, **meta, "step": step}
        (staging / META).write_text(json.dumps(full_meta, indent=2))
        for name in os.listdir(staging):
            with open(staging / name, "rb") as handle:
                os.fsync(handle.fileno())
        if final.exists():  # re-saving the same step (e.g. interrupted right after a save)
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_pointer(root, LATEST, final.name)
    if best:
        _write_pointer(root, BEST, final.name)
    _fsync_dir(root)
    prune(root, keep_last)
    return final


def _write_pointer(root: Path, pointer: str, name: str) -> None:
    temporary = root / f".{pointer}.tmp"
    temporary.write_text(name + "\n")
    os.replace(temporary, root / pointer)


def _pointed(root: Path, pointer: str) -> Path | None:
    """The checkpoint directory ``root/pointer`` names, when it exists."""
    path = root / pointer
    if not path.is_file():
        return None
    named = root / path.read_text().strip()
    return named if named.is_dir() else None


def prune(root: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints and stale temporaries."""
    for leftover in root.glob(".step_*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    if keep_last <= 0:
        return
    for old in list_checkpoints(root)[:-keep_last]:
        if old != _pointed(root, BEST):
            shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete-looking checkpoint directories under ``root``, oldest first."""
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def find_checkpoint(path: Path) -> Path | None:
    """Resolve a run directory, its ``checkpoints`` folder, a step directory or the ``latest``
    or ``best`` pointer to a checkpoint.

    Returns None when ``path`` is a run directory that has no checkpoint yet.
    """
    if (path / META).exists() or _STEP_DIR.match(path.name):
        return path
    if path.is_file() and path.name in (LATEST, BEST):  # RUN/checkpoints/best
        return _pointed(path.parent, path.name)
    root = path / CHECKPOINTS if (path / CHECKPOINTS).is_dir() else path
    if not root.is_dir():
        return None
    latest = _pointed(root, LATEST)
    if latest is not None:
        return latest
    candidates = list_checkpoints(root)
    return candidates[-1] if candidates else None


def load_checkpoint(path: Path, expected_family: str | None = None) -> Checkpoint:
    """Load a checkpoint found from ``path``; raise :class:`CheckpointError` naming the problem."""
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint or run directory")
    found = find_checkpoint(path)
    if found is None:
        raise CheckpointError(f"{path}: holds no checkpoint")
    missing = [name for name in REQUIRED_FILES if not (found / name).is_file()]
    if missing:
        raise CheckpointError(f"{found}: incomplete checkpoint, missing {', '.join(missing)}")
    try:
        meta = json.loads((found / META).read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{found / META}: not valid JSON ({exc})") from None
    if "family" not in meta or "config" not in meta or "step" not in meta:
        raise CheckpointError(f"{found / META}: not an imagexform checkpoint (no family/config)")
    if expected_family is not None and meta["family"] != expected_family:
        raise CheckpointError(
            f"{found}: checkpoint is for family {meta['family']!r}, not {expected_family!r}"
        )
    try:
        weights = _split_nets(load_file(str(found / WEIGHTS)))
        ema = _split_nets(load_file(str(found / EMA))) if (found / EMA).is_file() else {}
        state = load_state(found / STATE_TENSORS, found / STATE_TREE)
    except Exception as exc:
        raise CheckpointError(f"{found}: unreadable checkpoint data ({exc})") from None
    meta = _with_paths(meta, meta.get(LOCAL_PATHS, ()), lambda value: _whole(value, found))
    return Checkpoint(path=found, meta=meta, weights=weights, ema=ema, state=state)


def _relative(value: str, folder: Path) -> str:
    return os.path.relpath(Path(value).resolve(), folder.resolve())


def _whole(value: str, folder: Path) -> str:
    return os.path.normpath(folder.resolve() / value)


def _with_paths(
    meta: dict[str, Any], names: Iterable[str], change: Callable[[str], str]
) -> dict[str, Any]:
    """``meta`` with each non-empty path it names (``"data_root"``, ``"config.style_image"``)
    changed, and the names recorded under ``local_paths``."""
    meta = {**meta, "config": dict(meta.get("config", {}))}
    names = list(names)
    for name in names:
        in_config = name.startswith("config.")
        holder = meta["config"] if in_config else meta
        key = name.removeprefix("config.") if in_config else name
        if holder.get(key):
            holder[key] = change(str(holder[key]))
    meta[LOCAL_PATHS] = names
    return meta
