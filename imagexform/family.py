"""The interfaces a plugin implements to add a model family.

A family bundles what is specific to one kind of model: its typed config, its networks, the
dataset layout it trains on, one optimisation step, and the module it exports for inference.
Everything else (device, precision, schedules, EMA, checkpoints, logging, validation) belongs to
the core trainer, so a family never re-implements a training loop.

This module must not import torch at module level: the host imports it to list families, and
the inference side never installs torch. Torch types appear only in annotations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from torch import Tensor, nn
    from torch.optim import Optimizer
    from torch.utils.data import Dataset

    from imagexform.train.context import TrainContext


@dataclass
class TrainConfig:
    """Settings every family understands; a family's config subclasses this with its own.

    Everything here is owned by the core trainer. Defaults follow common GAN practice; a
    family overrides them by redeclaring the field with its own default.
    """

    steps: int = 1000  # total optimisation steps; resuming with a larger value continues to it
    batch_size: int = 1
    image_size: int = 256  # training crop size in pixels
    lr: float = 2e-4
    seed: int = 0
    init_from: str = ""  # run or checkpoint whose weights start the networks of the same name
    # linear: constant, then linear decay to zero, step by step; linear_epochs: the same held
    # constant within each epoch, exactly as the reference pix2pix/CycleGAN code decays it
    lr_schedule: Literal["constant", "linear", "linear_epochs", "cosine", "step"] = "linear"
    lr_decay_start: float = 0.5  # linear/cosine: fraction of steps at full LR before decay
    lr_step_every: int = 1000  # step schedule: multiply the LR by lr_gamma every this many steps
    lr_gamma: float = 0.5
    grad_clip: float = 0.0  # max global gradient norm per optimizer; 0 disables clipping
    ema_decay: float = 0.0  # exponential moving average of the exported nets; 0 disables it
    log_every: int = 10
    sample_every: int = 200  # image grids to TensorBoard and samples/
    save_every: int = 500
    keep_last: int = 3  # checkpoints kept on disk; older ones are deleted after a good save
    val_every: int = 500  # validation on the held-out split, when the dataset has one
    val_max_images: int = 50  # validation runs image by image; this caps how many
    early_stop_metric: str = ""  # e.g. "val/psnr"; empty disables early stopping
    early_stop_mode: Literal["min", "max"] = "max"
    early_stop_patience: int = 5  # validations without improvement before stopping
    num_workers: int = 0  # DataLoader worker processes
    # auto: bf16 autocast on CUDA (fp16 + gradient scaling where bf16 is missing) and on CPUs
    # with native bf16 (AVX512-BF16/AMX), fp32 elsewhere
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: bool = True  # channels_last memory format wherever autocast runs
    # torch.compile the networks the step runs: minutes of compiling first, faster steps after
    compile: bool = False
    # under torchrun on CUDA: BatchNorm statistics over the global batch, not each GPU's share
    sync_batchnorm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConditionSpec:
    """An extra input of the inference module besides ``image`` (attributes, strength...)."""

    name: str
    labels: tuple[str, ...] = ()  # one per channel of the condition vector
    defaults: tuple[float, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # mutually exclusive labels, e.g. hair colours
    value_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class IOSpec:
    """How the inference side must feed the exported module and read its output."""

    value_range: tuple[float, float] = (-1.0, 1.0)  # the tensor range that maps to black..white
    channels: int = 3
    out_channels: int = 3
    color_order: Literal["RGB", "BGR"] = "RGB"
    scale: int = 1  # output size / input size
    size_multiple: int = 1  # input height and width must be multiples of this
    conditions: tuple[ConditionSpec, ...] = field(default_factory=tuple)
    # Post-processing controls worth showing for this model ("strength", "preserve_color"; see
    # imagexform.runtime.adjustments). The runtime accepts them for every model regardless.
    adjustments: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TileHints:
    """How the runtime may split large images. ``tile_size`` 0 lets it choose from free memory;
    ``overlap`` should cover the network's effective receptive field so tiles blend seamlessly."""

    tile_size: int = 0  # input pixels per tile edge
    overlap: int = 16  # input pixels shared by neighbouring tiles, blended with feathering
    # Effective receptive field's radius in input pixels, measured at export (0: unknown, in
    # files from before it was recorded); the runtime's default overlap then covers it.
    receptive_field: int = 0


class TrainStep(ABC):
    """One family's optimisation step, constructed once per run by :meth:`Family.train_step`.

    It owns its optimizers (their kind and betas are family knowledge) and uses
    ``TrainContext.optimize`` for backward/step so the trainer can apply precision, gradient
    scaling and clipping uniformly.
    """

    @abstractmethod
    def optimizers(self) -> dict[str, Optimizer]:
        """The optimizers by name; the trainer schedules, checkpoints and restores them."""

    @abstractmethod
    def __call__(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """Update the networks on one batch and return scalar losses for logging."""

    @abstractmethod
    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """Metrics on one held-out batch (called under ``torch.no_grad`` in eval mode)."""

    @abstractmethod
    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        """Images for a sample grid, e.g. ``[input, output, target]``, each N×C×H×W in the
        family's IOSpec value range. Called under ``torch.no_grad`` in eval mode."""


@dataclass
class Imported:
    """Networks recovered from a foreign checkpoint, with the config that rebuilds them."""

    family: str
    config: TrainConfig
    nets: dict[str, nn.Module]
    description: str = ""


class Importer(ABC):
    """Recognises and converts one foreign checkpoint format (usually a reference repo's)."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @abstractmethod
    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        """Return the networks when ``checkpoint`` (a ``torch.load(weights_only=True)``
        result) is in this importer's format, else None. Never raise for a foreign format.

        ``overrides`` are the user's ``--set key=value`` texts, for what the file cannot
        tell (e.g. the scale of some super-resolution files); an importer applies them to the
        config it returns and raises a UserError only when a recognised file still cannot be
        loaded without one."""


class Family(ABC):
    """A model family: everything the core needs to train, save and export it."""

    name: ClassVar[str]
    summary: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    dataset_layout: ClassVar[str] = ""  # one line shown to users: what folder layout it reads
    ema_nets: ClassVar[tuple[str, ...]] = ("G",)  # nets averaged when ema_decay > 0

    @abstractmethod
    def build(self, config: TrainConfig) -> dict[str, nn.Module]:
        """Construct and initialise every network, keyed by a short name (``G``, ``D``...)."""

    @abstractmethod
    def dataset(self, config: TrainConfig, root: Path, split: str) -> Dataset | None:
        """The dataset for ``split`` (``train``, ``val``, ``test``) under ``root``, or None when
        that split does not exist. ``train`` must raise a ``DataError`` when unusable. Items must
        be picklable dicts of tensors (and strings)."""

    @abstractmethod
    def train_step(
        self, config: TrainConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> TrainStep:
        """The object that performs one optimisation step on ``nets``."""

    @abstractmethod
    def inference_module(self, config: TrainConfig, nets: dict[str, nn.Module]) -> nn.Module:
        """The module to export: takes ``image`` (and condition tensors) per :meth:`io_spec`."""

    @abstractmethod
    def io_spec(self, config: TrainConfig) -> IOSpec:
        """How the inference side feeds the exported module."""

    def tile_hints(self, config: TrainConfig) -> TileHints:
        """Tiling advice recorded in exported models; override for wide receptive fields."""
        return TileHints()

    def importers(self) -> list[Importer]:
        """Importers for this family's foreign checkpoints; none by default."""
        return []

    def icon(self, config: TrainConfig) -> bytes | None:
        """A small PNG that stands for models trained with ``config`` (style transfer: its
        painting); saved with checkpoints and exported models for the editor to show."""
        return None

    def variants(self, config: TrainConfig) -> dict[str, str]:
        """Named alternative exports, each the :meth:`export_modules` entry it exports on its
        own, for families that train several usable models at once (CycleGAN:
        ``{"A2B": "G_A", "B2A": "G_B"}``). Empty by default: the family exports
        :meth:`inference_module` alone."""
        return {}

    def export_modules(
        self, config: TrainConfig, nets: dict[str, nn.Module]
    ) -> dict[str, nn.Module]:
        """What ``--net`` and variants can export: the networks, plus any module built from
        them (face editing: the discriminator's attribute head as a classifier)."""
        return nets
