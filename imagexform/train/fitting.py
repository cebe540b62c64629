"""Training a family end to end: what ``imagexform train`` does, callable from Python.

``fit`` layers the settings (the family's defaults, then the checkpoint's when resuming, then
a TOML file, then the overrides), resumes from the run directory when it holds a checkpoint,
runs the trainer, and leaves the process group however the run ends. Notebooks and tests call
it directly; the CLI only parses arguments for it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from imagexform.config import apply_text, apply_values, load_toml
from imagexform.errors import UserError
from imagexform.family import Family, TrainConfig
from imagexform.plugins import PluginHost, host
from imagexform.train.checkpoint import Checkpoint, find_checkpoint, load_checkpoint
from imagexform.train.distributed import World
from imagexform.train.interrupts import StopRequested
from imagexform.train.trainer import Trainer, TrainResult


def fit(
    family: Family | str,
    data: Path | str | None,
    out: Path | str,
    overrides: Mapping[str, Any] | None = None,
    *,
    resume: bool = False,
    config_file: Path | None = None,
    device: str = "auto",
    echo: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``family`` (an instance, or the name of an installed one) on ``data`` into the
    run directory ``out``, continuing from its checkpoint when it holds one.

    ``overrides`` are settings by name: text (``"0.5"``, as ``--set`` gives them) is parsed
    like the command line, other values are checked against the field's type. ``resume``
    requires a checkpoint in ``out``; ``data`` may then be None (the checkpoint's is used).
    ``echo`` receives progress lines (resuming, warnings, interruption) on the main process.
    Raises :class:`~imagexform.errors.UserError` for unusable settings or data, and
    ``KeyboardInterrupt`` after saving a checkpoint when interrupted.
    """
    plugins = host()
    if isinstance(family, str):
        family = plugins.family(family)
    out = Path(out)
    world = World.from_environment()  # under torchrun, only rank 0 speaks
    echo = echo if world.is_main else _silent
    checkpoint = None
    if out.exists() and find_checkpoint(out) is not None:
        checkpoint = load_checkpoint(out, expected_family=family.name)
        echo(f"resuming {checkpoint.path} at step {checkpoint.step}")
    elif resume:
        raise UserError(f"{out}: no checkpoint to resume from")
    config = layered_config(family, checkpoint, config_file, overrides or {})
    if data is None and checkpoint is not None:
        data = checkpoint.meta["data_root"]
    if data is None:
        raise UserError("train needs --data DIR (the dataset folder)")
    trainer = _trainer(family, config, Path(data), out, device, checkpoint, world, plugins, echo)
    together = False
    try:
        result = trainer.run()
        together = True
    except KeyboardInterrupt as stop:
        together = isinstance(stop, StopRequested)
        echo(
            f"\ninterrupted at step {trainer.step}; checkpoint saved. Resume with: "
            f"imagexform train {family.name} --out {out}"
        )
        raise
    finally:
        trainer.world.leave(together)
    return result


def layered_config(
    family: Family,
    checkpoint: Checkpoint | None,
    config_file: Path | None,
    overrides: Mapping[str, Any],
) -> TrainConfig:
    """The family's defaults, then the checkpoint's settings, the file's, the overrides'."""
    base = family.config_class()
    if checkpoint is not None:
        base = apply_values(base, checkpoint.meta["config"])
    if config_file is not None:
        base = apply_values(base, load_toml(config_file))
    texts = {key: value for key, value in overrides.items() if isinstance(value, str)}
    values = {key: value for key, value in overrides.items() if not isinstance(value, str)}
    return apply_text(apply_values(base, values), texts)


def _trainer(
    family: Family,
    config: TrainConfig,
    data: Path,
    out: Path,
    device: str,
    checkpoint: Checkpoint | None,
    world: World,
    plugins: PluginHost,
    echo: Callable[[str], None],
) -> Trainer:
    """The trainer, with the dataset's warnings (skipped files, which already name the file)
    passed on as plain lines."""
    plugin = {}
    if plugins.families.get(family.name) is family:  # an installed family, not a notebook's
        owner = plugins.records[plugins.family_owner(family.name)]
        plugin = {"name": owner.name, "version": owner.version}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return Trainer(
                family,
                config,
                data_root=data,
                run_dir=out,
                device=device,
                plugin=plugin,
                resume=checkpoint,
                world=world,
            )
        finally:
            for warning in caught:
                echo(f"warning: {warning.message}")


def _silent(text: str) -> None:
    """Where a rank other than the main one would print."""
