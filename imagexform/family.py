"""The interfaces a plugin implements to add a model family.

A family bundles what is specific to one kind of model: its typed config, its networks, the
dataset layout it trains on, one optimisation step, and the module it exports for inference.
Everything else (device, precision, schedules, EMA, checkpoints, logging, validation) belongs to
the core trainer, so a family never re-implements a training loop.

This module must not import torch at module level: the host imports it to list families, and
the inference side never installs torch. Torch types appear only in annotations.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from imagexform.config import path_setting
from imagexform.errors import UserError

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
    # run or checkpoint whose weights start the networks of the same name
    init_from: str = path_setting()
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
    # FID or KID (clean-fid) of the outputs on the validation split; lower is better, and the
    # best checkpoint is kept as checkpoints/best. "val/fid" can drive early stopping (min).
    eval_metric: Literal["", "fid", "kid"] = ""
    eval_every: int = 1000  # steps between FID/KID measurements (and at the last step)
    fid_mode: Literal["clean", "legacy_pytorch"] = "clean"  # clean-fid's feature mode
    feature_weights: str = path_setting()  # the Inception weights file, for offline machines
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


@dataclass
class GANConfig(TrainConfig):
    """The settings every adversarially trained family shares; a GAN family's config extends
    this instead of TrainConfig and narrows ``gan_mode``'s choices or defaults as it needs."""

    gan_mode: Literal["vanilla", "lsgan", "hinge", "wgangp", "ragan"] = "vanilla"
    lambda_gp: float = 10.0  # gradient penalty weight, used with gan_mode = "wgangp"
    beta1: float = 0.5  # Adam's betas for every optimizer of the step (TrainStep.adam)
    beta2: float = 0.999

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)


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
    """One family's optimisation step, constructed once per run by :meth:`Family.train_step`
    as ``step_class(config, nets, context)``.

    It owns its optimizers (their kind and betas are family knowledge): create each with
    :meth:`adam`, which registers it for the trainer to schedule, checkpoint and restore. Use
    ``TrainContext.optimize`` for backward/step so the trainer applies precision, gradient
    scaling, averaging across processes and clipping uniformly.
    """

    def __init__(self, config: TrainConfig, nets: dict[str, nn.Module], context: TrainContext):
        self.config, self.nets, self.context = config, nets, context
        self._optimizers: dict[str, Optimizer] = {}

    def adam(
        self,
        name: str,
        *modules: nn.Module,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
    ) -> Optimizer:
        """A fused Adam over ``modules``' parameters, registered under ``name``. ``lr``
        defaults to ``config.lr``; ``betas`` to the config's (a GANConfig's beta1/beta2),
        else (0.9, 0.999)."""
        import itertools

        parameters = itertools.chain.from_iterable(m.parameters() for m in modules)
        betas = betas or getattr(self.config, "betas", (0.9, 0.999))
        optimizer = self.context.adam(parameters, lr or self.config.lr, betas)
        self._optimizers[name] = optimizer
        return optimizer

    def optimizers(self) -> dict[str, Optimizer]:
        """The optimizers by name; the trainer schedules, checkpoints and restores them."""
        return self._optimizers

    @abstractmethod
    def __call__(self, batch: Mapping[str, Any]) -> Mapping[str, Tensor | float]:
        """Update the networks on one batch and return the losses for logging, as tensors:
        the trainer reads them (a device sync) and checks they are finite only on the steps
        it logs, so a GPU is never stalled waiting for a number nobody looks at."""

    @abstractmethod
    def evaluate(self, batch: Mapping[str, Any]) -> Mapping[str, Tensor | float]:
        """Metrics on one held-out batch (called under ``torch.no_grad`` in eval mode)."""

    def fidelity_pair(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor] | None:
        """For FID/KID while training (``eval_metric``): the family's output for one held-out
        batch and real images of the domain it should resemble, both N×C×H×W in the IOSpec
        value range. None (the default) when the family has no such pair. Called under
        ``torch.no_grad`` in eval mode."""
        return None

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
    # What the importer learnt about the network beyond the family's config (spandrel's model
    # descriptor: architecture name and sub-type, tags, size requirements, half-precision
    # support, a licence note); recorded in the model's metadata and shown by ``models info``.
    architecture: dict[str, Any] = field(default_factory=dict)
    task: str = ""  # what the model does ("super-resolution", "restoration", ...)


class Importer(ABC):
    """Recognises and converts one foreign checkpoint format (usually a reference repo's).

    As spandrel does it, recognising (:meth:`detect`, cheap) is apart from loading
    (:meth:`load`, builds the network), and the order importers are asked in is an explicit
    ``priority`` rather than plugin registration order: lower runs first. Importers that know
    one layout exactly keep the default; broad fallbacks (spandrel) take a high number."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    priority: ClassVar[int] = 100
    # True for networks from code we do not maintain (spandrel's): torch's dynamo exporter has
    # crashed the process on some, so it runs on them in a child process
    isolate_export: ClassVar[bool] = False

    def canonical_state(self, checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
        """The file's tensors under the names of the state dict :meth:`load` loads (torch
        tensors or numpy arrays, untouched), or None when the file is not in a layout this
        importer reads. Key work only, never torch: the torch-free converter matches the result
        against weightless graph templates (``imagexform.convert``). The default takes the
        state dict out of its container and strips wrapper prefixes; an importer that renames
        published layouts to its own (ESRGAN's to BasicSR's) overrides it."""
        from imagexform.convert.statedict import unwrap_state_dict

        state, _ = unwrap_state_dict(checkpoint)
        return state or None

    def detect(self, checkpoint: Mapping[str, Any]) -> bool:
        """Whether ``checkpoint`` looks like this importer's format, from its keys and tensor
        shapes alone. The default asks :meth:`load`, which is correct but builds networks;
        override it with a check that builds nothing."""
        try:
            return self.load(checkpoint) is not None
        except UserError:  # recognised, but needs a setting only the user can give
            return True
        except Exception:
            return False

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


@dataclass(frozen=True)
class TemplateSet:
    """Weightless ONNX graph templates a plugin ships, so that published checkpoints of its
    architectures convert to ONNX without torch (``imagexform.convert``).

    ``package`` is an importable package whose ``*.onnx`` files are the templates (package
    data); ``recipes`` is ``"package.module:function"`` returning the
    ``imagexform.export.templates.TemplateRecipe`` list that (re)makes them with torch,
    imported only by ``python -m imagexform.export.templates``."""

    package: str
    recipes: str


class Family(ABC):
    """A model family: everything the core needs to train, save and export it."""

    name: ClassVar[str]
    summary: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    dataset_layout: ClassVar[str] = ""  # one line shown to users: what folder layout it reads
    ema_nets: ClassVar[tuple[str, ...]] = ("G",)  # nets averaged when ema_decay > 0
    # "package.module:Class", the TrainStep; imported only when training starts, so listing
    # families never imports torch
    step_class: ClassVar[str] = ""

    @abstractmethod
    def build(self, config: TrainConfig) -> dict[str, nn.Module]:
        """Construct and initialise every network, keyed by a short name (``G``, ``D``...)."""

    @abstractmethod
    def dataset(self, config: TrainConfig, root: Path, split: str) -> Dataset | None:
        """The dataset for ``split`` (``train``, ``val``, ``test``) under ``root``, or None when
        that split does not exist. ``train`` must raise a ``DataError`` when unusable. Items must
        be picklable dicts of tensors (and strings). Either a ``SampleDataset`` (implements
        ``load(index, rng)``, reports left-out files in ``skipped``) or any map-style torch
        ``Dataset``, which the trainer wraps (see :mod:`imagexform.data.samples`)."""

    def train_step(
        self, config: TrainConfig, nets: dict[str, nn.Module], context: TrainContext
    ) -> TrainStep:
        """The object that performs one optimisation step on ``nets``: by default
        :attr:`step_class`, imported now and constructed with ``(config, nets, context)``."""
        module_name, _, class_name = self.step_class.partition(":")
        if not module_name or not class_name:
            raise TypeError(
                f"family {self.name!r}: set step_class = 'package.module:Class' "
                "or override train_step"
            )
        step_class = getattr(importlib.import_module(module_name), class_name)
        return step_class(config, nets, context)

    def inference_module(self, config: TrainConfig, nets: dict[str, nn.Module]) -> nn.Module:
        """The module to export: takes ``image`` (and condition tensors) per :meth:`io_spec`.
        The generator ``G`` by default."""
        return nets["G"]

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

    def variant_role(self, config: TrainConfig, variant: str) -> str:
        """The :attr:`ModelInfo.role <imagexform.modelinfo.ModelInfo.role>` recorded in
        ``variant``'s exports: "" (an image transform) by default; ``CLASSIFIER_ROLE`` for a
        variant that classifies photos for the run's generator (face editing's attributes)."""
        return ""

    def adopt(self, imported: Imported) -> Imported | None:
        """This family's reading of networks that another family's importer recognised.

        Some files cannot tell which family trained them: a junyanz ResNet generator is
        pix2pix's, or one direction of a CycleGAN. When the user (``import --family``) or the
        catalog says which, the importer's result is handed to that family, which returns it
        as its own (its config, its network names) or None when the networks do not fit.
        None by default: the family adopts nothing."""
        return None

    def export_modules(
        self, config: TrainConfig, nets: dict[str, nn.Module]
    ) -> dict[str, nn.Module]:
        """What ``--net`` and variants can export: the networks, plus any module built from
        them (face editing: the discriminator's attribute head as a classifier)."""
        return nets
