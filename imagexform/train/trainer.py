"""The training loop every family shares.

The family supplies networks, data and one optimisation step; the trainer owns the rest:
device and precision, seeding, LR schedule, EMA, validation and early stopping, sample grids,
checkpoints and resume. A run interrupted and resumed on CPU ends bit-identical to one that
was not, because every source of randomness is either saved (global RNGs) or derived from the
seed and the step (data order and augmentation).
"""

from __future__ import annotations

import base64
import contextlib
import math
import platform
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader

import imagexform
from imagexform.config import path_settings
from imagexform.data.samples import SampleDataset, as_samples, skipped_files
from imagexform.data.sampling import ResumableSampler, derive_seed
from imagexform.errors import CheckpointError, ConfigError, DataError
from imagexform.family import Family, TrainConfig, TrainStep
from imagexform.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    mismatch_summary,
    save_checkpoint,
)
from imagexform.train.context import TrainContext, load_optimizer_state
from imagexform.train.device import choose_precision, fit_layout, resolve_device
from imagexform.train.distributed import World, broadcast_buffers, broadcast_state, sync_batchnorm
from imagexform.train.ema import WeightAverage
from imagexform.train.interrupts import StopRequested, deferred_stop_requests
from imagexform.train.reporting import Reporter, image_grid
from imagexform.train.schedules import apply_lr

if TYPE_CHECKING:
    from imagexform.train.fidelity import FidelityProbe

SAMPLE_ROWS = 4


@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    stopped_early: bool
    samples: Path | None
    validation: dict[str, float]
    is_main: bool = True  # the process that logged and saved (rank 0 under torchrun)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class EarlyStopping:
    """Stops after ``patience`` validations without improving ``metric``."""

    def __init__(self, metric: str, mode: str, patience: int) -> None:
        self.metric, self.mode, self.patience = metric, mode, patience
        self.best: float | None = None
        self.bad_validations = 0

    def should_stop(self, results: dict[str, float]) -> bool:
        if not self.metric:
            return False
        if self.metric not in results:
            available = ", ".join(sorted(results)) or "none"
            raise ConfigError(
                f"early_stop_metric {self.metric!r} is not computed; available: {available}"
            )
        value = results[self.metric]
        improved = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if improved:
            self.best, self.bad_validations = value, 0
        else:
            self.bad_validations += 1
        return self.patience > 0 and self.bad_validations >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_validations = state["best"], state["bad_validations"]


class Trainer:
    def __init__(
        self,
        family: Family,
        config: TrainConfig,
        *,
        data_root: Path,
        run_dir: Path,
        device: str = "auto",
        plugin: dict[str, Any] | None = None,
        resume: Checkpoint | None = None,
        world: World | None = None,
    ) -> None:
        self.family = family
        self.config = config
        self.data_root = data_root
        self.run_dir = run_dir
        self.plugin = plugin or {}
        self.resume = resume
        self.world = world or World.from_environment()
        self.is_main = self.world.is_main  # the process that logs, validates and saves
        _check_config(config)
        self.device = self.world.join(resolve_device(device))
        self.precision = choose_precision(self.device, config.precision, config.channels_last)
        seed_everything(config.seed)
        self.train_data, self.val_data = self._datasets()
        self._build_networks()
        self.step_fn: TrainStep = family.train_step(config, self._stepped(), self.context)
        self.optimizers = self.step_fn.optimizers()
        self.ema = (
            WeightAverage({n: self.nets[n] for n in family.ema_nets}, config.ema_decay)
            if config.ema_decay > 0
            else None
        )
        self.early_stopping = EarlyStopping(
            config.early_stop_metric, config.early_stop_mode, config.early_stop_patience
        )
        self.fidelity = self._fidelity_probe()
        icon = family.icon(config)  # computed now: a missing source file stops before step 1
        self.icon = base64.b64encode(icon).decode("ascii") if icon else ""
        self.step = 0
        self.initialised = ""
        if resume is not None:
            self._restore(resume)
        elif config.init_from:
            self._initialise_from(Path(config.init_from))
        if self.world.distributed:
            # Rank-specific randomness (dropout, noise) from here; weights stay rank 0's.
            seed_everything(derive_seed("rank", config.seed, self.world.rank, self.step))

    def _datasets(self) -> tuple[SampleDataset, SampleDataset | None]:
        """The family's train and val splits, held to the dataset contract (an ordinary
        map-style dataset is wrapped so the sampler's seeds reach it)."""
        config, root = self.config, self.data_root
        train = self.family.dataset(config, root, "train")
        if train is None or len(train) == 0:
            raise DataError(f"{root}: no training images")
        val = self.family.dataset(config, root, "val")
        if config.early_stop_metric and val is None:
            raise ConfigError(
                f"early_stop_metric {config.early_stop_metric!r} needs a validation split: "
                f"{root} has no val/ folder"
            )
        return as_samples(train), None if val is None else as_samples(val)

    def _fidelity_probe(self) -> FidelityProbe | None:
        """The FID/KID probe when ``eval_metric`` asks for one, on the main process (which
        validates); its feature network loads now, so a missing file stops before step 1."""
        config = self.config
        if not config.eval_metric:
            return None
        if self.val_data is None:
            raise ConfigError(
                f"eval_metric {config.eval_metric!r} needs a validation split: "
                f"{self.data_root} has no val/ folder"
            )
        if not self.is_main:
            return None
        from imagexform.train.fidelity import FidelityProbe

        value_range = self.family.io_spec(config).value_range
        return FidelityProbe(config, value_range, self.family.name)

    def _build_networks(self) -> None:
        """The family's networks on the device, identical on every rank."""
        config = self.config
        nets = self.family.build(config)
        self.precision = fit_layout(self.precision, self.device, nets.values())
        self.context = TrainContext(
            self.device, self.precision, config.grad_clip, config.steps, self.world
        )
        if config.sync_batchnorm and self.world.distributed:
            nets = sync_batchnorm(nets, self.device)
        self.nets = {name: self.context.prepare(net) for name, net in nets.items()}
        broadcast_state(self.nets, self.world)

    def _stepped(self) -> dict[str, torch.nn.Module]:
        """The networks the step runs. Compiled wrappers share the parameters; state is saved
        from the plain modules so checkpoint keys never carry torch.compile's prefix."""
        if not self.config.compile:
            return self.nets
        return {name: torch.compile(net) for name, net in self.nets.items()}

    # --- state -------------------------------------------------------------------------
    def _restore(self, checkpoint: Checkpoint) -> None:
        for name, net in self.nets.items():
            if name not in checkpoint.weights:
                raise CheckpointError(f"{checkpoint.path}: has no weights for network {name!r}")
            net.load_state_dict(checkpoint.weights[name], strict=True)
        if self.ema is not None and checkpoint.ema:
            self.ema.load_state_dicts(checkpoint.ema)
        elif self.ema is not None:  # EMA switched on while resuming: start from the weights
            self.ema.load_state_dicts({n: self.nets[n].state_dict() for n in self.ema.nets})
        state = checkpoint.state
        for name, optimizer in self.optimizers.items():
            load_optimizer_state(optimizer, state["optimizers"][name])
        self.context.scaler.load_state_dict(state["scaler"])
        self.early_stopping.load_state_dict(state["early_stopping"])
        if self.fidelity is not None:
            self.fidelity.load_state_dict(state.get("fidelity", {}))
        restore_rng(state["rng"])
        self.step = checkpoint.step

    def _initialise_from(self, path: Path) -> None:
        """Start from another run's weights (e.g. ESRGAN's GAN stage from its PSNR stage):
        the averaged weights where that run kept them, for every network both runs have."""
        source = load_checkpoint(path)
        loaded = []
        for name, net in self.nets.items():
            weights = source.weights_for(name)
            if weights is None:
                continue
            try:
                net.load_state_dict(weights, strict=True)
            except RuntimeError as exc:
                raise CheckpointError(
                    f"{source.path}: weights of {name!r} do not fit this config "
                    f"({mismatch_summary(exc)})"
                ) from None
            loaded.append(name)
        if not loaded:
            raise CheckpointError(f"{source.path}: has none of the networks {sorted(self.nets)}")
        if self.ema is not None:
            self.ema.load_state_dicts({n: self.nets[n].state_dict() for n in self.ema.nets})
        self.initialised = f"initialised {', '.join(loaded)} from {source.path}"

    def save(self, best: bool = False) -> Path | None:
        if not self.is_main:
            return None
        meta = {
            "family": self.family.name,
            "plugin": self.plugin.get("name"),
            "plugin_version": self.plugin.get("version"),
            "imagexform_version": imagexform.__version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "data_root": str(self.data_root),
            "nets": sorted(self.nets),
            "ema_nets": sorted(self.ema.nets) if self.ema else [],
            "io_spec": self.family.io_spec(self.config).to_dict(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if self.icon:
            meta["icon"] = self.icon
        state = {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "scaler": self.context.scaler.state_dict(),
            "early_stopping": self.early_stopping.state_dict(),
            "fidelity": self.fidelity.state_dict() if self.fidelity else {},
            "rng": capture_rng(),
        }
        return save_checkpoint(
            self.run_dir,
            step=self.step,
            meta=meta,
            weights={name: net.state_dict() for name, net in self.nets.items()},
            ema=self.ema.state_dicts() if self.ema else {},
            state=state,
            keep_last=self.config.keep_last,
            best=best,
            local_paths=[
                "data_root",
                *(f"config.{name}" for name in sorted(path_settings(type(self.config)))),
            ],
        )

    @property
    def steps_per_epoch(self) -> float:
        return len(self.train_data) / (self.config.batch_size * self.world.size)

    @property
    def epoch(self) -> int:
        return int(self.step // self.steps_per_epoch)

    # --- loop --------------------------------------------------------------------------
    def _batches(self) -> Iterator[dict[str, Any]]:
        sampler = ResumableSampler(
            len(self.train_data),
            self.config.seed,
            start=self.step * self.config.batch_size,
            rank=self.world.rank,
            world_size=self.world.size,
        )
        loader = DataLoader(
            self.train_data,
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self.config.num_workers > 0,
            # its own generator: DataLoader otherwise draws a seed from the global RNG
            generator=torch.Generator().manual_seed(self.config.seed),
        )
        yield from loader

    def _set_mode(self, training: bool) -> None:
        for net in self.nets.values():
            net.train(training)

    def run(self) -> TrainResult:
        config = self.config
        reporter = Reporter(self.run_dir, config.steps, self.step) if self.is_main else None
        checkpoint: Path | None = None
        samples: Path | None = None
        validation: dict[str, float] = {}
        stopped_early = False
        if self.step >= config.steps:
            if reporter:
                reporter.message(f"already at step {self.step} of {config.steps}; nothing to do")
            return TrainResult(self.step, None, False, None, {}, self.is_main)
        if reporter:
            reporter.message(self._data_summary())
            if self.initialised:
                reporter.message(self.initialised)
        sample_items = self._sample_items()
        with reporter if reporter else contextlib.nullcontext(), deferred_stop_requests() as stop:
            batches = self._batches()
            while self.step < config.steps:
                self.context.step = self.step
                factor = apply_lr(self.optimizers, config, self.step, self.steps_per_epoch)
                self._set_mode(True)
                metrics = self.step_fn(self.context.to_device(next(batches)))
                broadcast_buffers(self.nets, self.world)
                if self.ema is not None:
                    self.ema.update(self.nets)
                self.step += 1
                logged = None
                if _due(self.step, max(1, config.log_every), config.steps):
                    logged = _check_finite(metrics, self.step)  # the only device sync
                if reporter:
                    reporter.step(self.step, logged, factor)
                if reporter and _due(self.step, config.sample_every, config.steps):
                    samples = reporter.samples(self.step, self._grid(sample_items))
                results, best = self._evaluate(reporter) if self.is_main else ({}, False)
                validation = results or validation
                if results:
                    stopped_early = self._should_stop(results)
                stopped_early, stopping = self.world.any(
                    (stopped_early, stop.is_set()), self.device
                )
                saving = stopped_early or stopping or best
                if saving or _due(self.step, config.save_every, config.steps):
                    checkpoint = self.save(best=best)
                if stopping:
                    raise StopRequested
                if stopped_early:
                    if reporter:
                        reporter.message(
                            f"early stop at step {self.step}: {config.early_stop_metric} "
                            f"best {self.early_stopping.best:.4g}"
                        )
                    break
        return TrainResult(self.step, checkpoint, stopped_early, samples, validation, self.is_main)

    def _evaluate(self, reporter: Reporter | None) -> tuple[dict[str, float], bool]:
        """The validation metrics and FID/KID due at this step, logged; and whether FID/KID
        just reached its best (that checkpoint is kept as ``best``)."""
        config, results, best = self.config, {}, False
        if self.val_data is not None and _due(self.step, config.val_every, config.steps):
            results.update(self.validate())
        if self.fidelity is not None and _due(self.step, config.eval_every, config.steps):
            value = self.measure_fidelity()
            results[self.fidelity.key] = value
            best = self.fidelity.improved(value)
        if results and reporter:
            reporter.scalars(self.step, results)
        return results, best

    def _should_stop(self, results: dict[str, float]) -> bool:
        """Early stopping on this round's results; FID/KID rounds that come without the
        metric it watches (or plain rounds without FID/KID it watches) do not count."""
        metric = self.config.early_stop_metric
        fidelity_key = self.fidelity.key if self.fidelity else ""
        plain_round = any(key != fidelity_key for key in results)
        if metric in results or (metric != fidelity_key and plain_round):
            return self.early_stopping.should_stop(results)
        return False

    @torch.no_grad()
    def measure_fidelity(self) -> float:
        """FID/KID of the family's outputs on (at most ``val_max_images`` of) the val split."""
        assert self.fidelity is not None and self.val_data is not None
        self._set_mode(False)
        loader = DataLoader(self.val_data, batch_size=1, shuffle=False)
        batches = (b for _, b in zip(range(self.config.val_max_images), loader, strict=False))
        return self.fidelity.measure(
            self.step_fn.fidelity_pair(self.context.to_device(batch)) for batch in batches
        )

    def _data_summary(self) -> str:
        skipped = len(skipped_files(self.train_data))
        summary = f"data: {len(self.train_data)} training samples"
        if skipped:
            summary += f" ({skipped} unreadable skipped)"
        if self.val_data is not None:
            summary += f", {len(self.val_data)} validation samples"
        dtype = self.precision.autocast_dtype
        precision = "fp32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"
        processes = f", {self.world.size} processes" if self.world.distributed else ""
        return f"{summary}; device {self.device}, {precision}{processes}"

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean metrics over the held-out split, one image at a time so sizes may differ."""
        assert self.val_data is not None
        self._set_mode(False)
        loader = DataLoader(self.val_data, batch_size=1, shuffle=False)
        totals: dict[str, float] = {}
        count = 0
        for index, batch in enumerate(loader):
            if index >= self.config.val_max_images:
                break
            for key, value in self.step_fn.evaluate(self.context.to_device(batch)).items():
                totals[key] = totals.get(key, 0.0) + float(value)
            count += 1
        return {f"val/{key}": value / max(1, count) for key, value in totals.items()}

    def _sample_items(self) -> list[dict[str, Any]]:
        source: SampleDataset = self.val_data if self.val_data is not None else self.train_data
        rows = min(SAMPLE_ROWS, len(source))
        # fixed keys: the same crops at every sampling step, whatever the data order
        keys = list(range(rows)) if source is self.val_data else [(i, 0) for i in range(rows)]
        return [torch.utils.data.default_collate([source[key]]) for key in keys]

    @torch.no_grad()
    def _grid(self, items: list[dict[str, Any]]) -> np.ndarray:
        self._set_mode(False)
        rows = [self.step_fn.sample(self.context.to_device(item)) for item in items]
        return image_grid(rows, self.family.io_spec(self.config).value_range)


def _due(step: int, every: int, total: int) -> bool:
    return step == total or (every > 0 and step % every == 0)


def _check_finite(metrics: Mapping[str, torch.Tensor | float], step: int) -> dict[str, float]:
    """The step's losses as numbers (tensors are read here, a device sync), all finite."""
    values = {key: float(value) for key, value in metrics.items()}
    bad = [key for key, value in values.items() if not math.isfinite(value)]
    if bad:
        raise FloatingPointError(
            f"step {step}: non-finite loss {', '.join(bad)}; lower lr or enable grad_clip"
        )
    return values


def _check_config(config: TrainConfig) -> None:
    for key in ("steps", "batch_size", "image_size"):
        if getattr(config, key) < 1:
            raise ConfigError(f"setting {key!r} must be at least 1, got {getattr(config, key)}")
    if config.lr <= 0:
        raise ConfigError(f"setting 'lr' must be positive, got {config.lr}")
