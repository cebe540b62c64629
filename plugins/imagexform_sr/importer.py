"""Import the super-resolution generators published by ESRGAN, Real-ESRGAN and BasicSR.

Those ``.pth`` files hold weights only: the architecture, its width and depth, and the scale
are read off the key names and tensor shapes, as spandrel does, so a user converts a
downloaded model without naming its settings. Three key layouts describe one network (the
xinntao/ESRGAN layouts are BasicSR's RRDBNet under other names), so each file is first renamed
to our BasicSR names by the documented remaps, then measured. Every guess is confirmed by
building the network it describes and requiring exactly the file's keys and shapes: a
lookalike is declined, never half-loaded.

The module stays torch-free at import time: the host imports it to list importers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from imagexform.plugin_api import Imported, Importer, UserError, apply_text
from imagexform_sr.config import SRConfig

if TYPE_CHECKING:
    from torch import Tensor, nn

T = TypeVar("T")

# BasicSR's containers, most preferred first: Real-ESRGAN releases and BasicSR's own
# inference use the EMA weights, which are the better generator.
CONTAINER_KEYS = ("params_ema", "params")

# A rename rule: the first rule whose pattern matches a key rewrites its start.
_Rules = tuple[tuple[str, str], ...]

# xinntao/ESRGAN before June 2019 (architecture.py): one flattened Sequential, ``model.<i>``.
# The trunk conv sits after the last RRDB in ``model.1.sub``; its index is the block count.
_ESRGAN_OLD_RULES: _Rules = (
    (r"model\.0\.", "conv_first."),
    (r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.", r"RRDB_trunk.\1.RDB\2.conv\3."),
    (r"model\.3\.", "upconv1."),
    (r"model\.6\.", "upconv2."),
    (r"model\.8\.", "HRconv."),
    (r"model\.10\.", "conv_last."),
)
_ESRGAN_OLD_BLOCK = re.compile(r"model\.1\.sub\.(\d+)\.RDB")

# xinntao/ESRGAN's current RRDBNet_arch.py to BasicSR's RRDBNet.
_ESRGAN_TO_BASICSR_RULES: _Rules = (
    (r"RRDB_trunk\.(\d+)\.RDB(\d)\.", r"body.\1.rdb\2."),
    (r"trunk_conv\.", "conv_body."),
    (r"upconv(\d)\.", r"conv_up\1."),
    (r"HRconv\.", "conv_hr."),
)

_BODY_BLOCK = re.compile(r"body\.(\d+)\.")


def _rename(state: Mapping[str, T], rules: _Rules) -> dict[str, T]:
    """Apply the first matching rule to each key; keys no rule matches are kept as they are,
    so a strict load still reports them. Two keys landing on one name would silently drop a
    tensor, so that raises ``ValueError``."""
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]
    renamed: dict[str, T] = {}
    for key, value in state.items():
        new_key = key
        for pattern, replacement in compiled:
            if pattern.match(key):
                new_key = pattern.sub(replacement, key, count=1)
                break
        if new_key in renamed:
            raise ValueError(f"keys map onto the same name {new_key!r}")
        renamed[new_key] = value
    return renamed


def esrgan_old_to_new(state: Mapping[str, T]) -> dict[str, T]:
    """The conformance remap ``esrgan_old_to_new``: old ESRGAN keys (``model.0`` …
    ``model.10``) to the current ESRGAN names, after stripping ``module.``/``_orig_mod.``."""
    from imagexform.plugin_api import strip_wrappers

    state = strip_wrappers(state)
    num_blocks = len({m.group(1) for key in state if (m := _ESRGAN_OLD_BLOCK.match(key))})
    trunk_conv = ((rf"model\.1\.sub\.{num_blocks}\.", "trunk_conv."),)
    return _rename(state, _ESRGAN_OLD_RULES + trunk_conv)


def esrgan_new_to_basicsr(state: Mapping[str, T]) -> dict[str, T]:
    """The conformance remap ``esrgan_new_to_basicsr``: current ESRGAN names to BasicSR's."""
    return _rename(state, _ESRGAN_TO_BASICSR_RULES)


def basicsr_unwrap(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The conformance remap ``basicsr_unwrap``: the state dict inside a BasicSR container
    (``params_ema`` preferred over ``params``; a bare dict is its own state dict), with
    ``module.``/``_orig_mod.`` stripped."""
    from imagexform.plugin_api import strip_wrappers

    return strip_wrappers(_container_entry(checkpoint)[0])


def _container_entry(checkpoint: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The state dict BasicSR would load from ``checkpoint`` and the entry it is under
    ("" for a bare state dict)."""
    for entry in CONTAINER_KEYS:
        inner = checkpoint.get(entry)
        if isinstance(inner, Mapping):
            return inner, entry
    return checkpoint, ""


def _old_esrgan_to_basicsr(state: Mapping[str, T]) -> dict[str, T]:
    return esrgan_new_to_basicsr(esrgan_old_to_new(state))


def _as_is(state: Mapping[str, T]) -> dict[str, T]:
    return dict(state)


_Arch = Literal["srresnet", "rrdbnet"]


@dataclass(frozen=True)
class _Layout:
    """One published key layout: the keys that identify it and the renaming to ours."""

    source: str  # named in the import description
    arch: _Arch
    marker_keys: tuple[str, ...]
    to_basicsr: Callable[[Mapping[str, Any]], dict[str, Any]]


_BASICSR_RRDBNET = _Layout(
    "BasicSR/Real-ESRGAN",
    "rrdbnet",
    ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_up1.weight"),
    _as_is,
)
_BASICSR_MSRRESNET = _Layout(
    "BasicSR",
    "srresnet",
    ("conv_first.weight", "body.0.conv1.weight", "upconv1.weight", "conv_hr.weight"),
    _as_is,
)
_ESRGAN_RRDBNET = _Layout(
    "ESRGAN",
    "rrdbnet",
    ("conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "trunk_conv.weight"),
    esrgan_new_to_basicsr,
)
_ESRGAN_OLD_RRDBNET = _Layout(
    "ESRGAN (pre-2019 layout)",
    "rrdbnet",
    ("model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight"),
    _old_esrgan_to_basicsr,
)


def infer_rrdbnet_scale(first_conv_in: int, out_channels: int) -> int | None:
    """RRDBNet's scale from its first convolution's input channels, or None if ambiguous.

    The file records only ``num_in_ch · u²``, where ``u`` is the pixel-unshuffle factor of the
    scale (×4: 1, ×2: 2, ×1: 4). When more than one scale divides it, the one that maps as
    many channels in as out is taken (3 → 3 for every published file), as spandrel does;
    if none or several do (e.g. 4 channels in and 3 out: RGBA ×4 or grayscale → RGB ×2),
    only the user knows.
    """
    from imagexform_sr.networks import RRDBNET_SCALES, RRDBNET_UNSHUFFLE

    fits = [s for s in RRDBNET_SCALES if first_conv_in % RRDBNET_UNSHUFFLE[s] ** 2 == 0]
    if len(fits) == 1:
        return fits[0]
    balanced = [s for s in fits if first_conv_in // RRDBNET_UNSHUFFLE[s] ** 2 == out_channels]
    return balanced[0] if len(balanced) == 1 else None


def _shape(state: Mapping[str, Tensor], key: str) -> tuple[int, ...] | None:
    tensor = state.get(key)
    return tuple(tensor.shape) if tensor is not None and tensor.ndim == 4 else None


def _num_blocks(state: Mapping[str, Tensor]) -> int:
    return len({m.group(1) for key in state if (m := _BODY_BLOCK.match(key))})


def _read_rrdbnet(state: Mapping[str, Tensor], scale: int | None) -> dict[str, Any] | None:
    from imagexform_sr.networks import RRDBNET_SCALES, RRDBNET_UNSHUFFLE

    first = _shape(state, "conv_first.weight")
    last = _shape(state, "conv_last.weight")
    grow = _shape(state, "body.0.rdb1.conv1.weight")
    if first is None or last is None or grow is None:
        return None
    first_in, out_channels = first[1], last[0]
    if scale is None:
        scale = infer_rrdbnet_scale(first_in, out_channels)
        if scale is None:
            raise UserError(
                f"cannot infer the scale of this RRDBNet checkpoint: its first convolution "
                f"takes {first_in} channels and it outputs {out_channels}, which fits more "
                f"than one scale; pass --set scale=N (N = {', '.join(map(str, RRDBNET_SCALES))})"
            )
    elif scale not in RRDBNET_SCALES:
        raise UserError(
            f"RRDBNet checkpoints import at scale {', '.join(map(str, RRDBNET_SCALES))}, "
            f"not {scale}"
        )
    unshuffle = RRDBNET_UNSHUFFLE[scale]
    if first_in % unshuffle**2:
        raise UserError(
            f"scale {scale} does not fit this RRDBNet checkpoint: at that scale its first "
            f"convolution would take a multiple of {unshuffle**2} channels, not {first_in}"
        )
    return {
        "arch": "rrdbnet",
        "scale": scale,
        "num_in_ch": first_in // unshuffle**2,
        "num_out_ch": out_channels,
        "num_feat": first[0],
        "num_block": _num_blocks(state),
        "num_grow_ch": grow[0],
    }


def _read_msrresnet(state: Mapping[str, Tensor], scale: int | None) -> dict[str, Any] | None:
    first = _shape(state, "conv_first.weight")
    last = _shape(state, "conv_last.weight")
    up = _shape(state, "upconv1.weight")
    if first is None or last is None or up is None:
        return None
    num_feat = first[0]
    if scale is None:
        # ×4 is two ×2 pixel-shuffle stages; ×2 and ×3 one stage that widens by scale².
        if "upconv2.weight" in state:
            scale = 4
        elif up[0] in (4 * num_feat, 9 * num_feat):
            scale = 2 if up[0] == 4 * num_feat else 3
        else:
            return None
    return {
        "arch": "srresnet",
        "scale": scale,
        "num_in_ch": first[1],
        "num_out_ch": last[0],
        "num_feat": num_feat,
        "num_block": _num_blocks(state),
    }


_READERS: dict[_Arch, Callable[[Mapping[str, Tensor], int | None], dict[str, Any] | None]] = {
    "rrdbnet": _read_rrdbnet,
    "srresnet": _read_msrresnet,
}


def _matching_generator(config: SRConfig, state: Mapping[str, Tensor]) -> nn.Module | None:
    """The generator ``config`` describes, on the meta device, if it has exactly the keys
    and shapes of ``state``; else None. The meta device allocates no memory, so checking a
    full-size RRDBNet is cheap."""
    import torch

    from imagexform_sr.networks import build_generator

    try:
        with torch.device("meta"):
            net = build_generator(config)
    except (ValueError, RuntimeError, UserError):
        return None
    expected = {key: tuple(tensor.shape) for key, tensor in net.state_dict().items()}
    actual = {key: tuple(tensor.shape) for key, tensor in state.items()}
    return net if expected == actual else None


def _tensor_dict(checkpoint: object) -> tuple[dict[str, Tensor], str] | None:
    """The state dict inside ``checkpoint`` and its container entry, or None if there is
    no non-empty mapping of names to tensors."""
    from imagexform.plugin_api import is_tensor_dict, strip_wrappers

    if not isinstance(checkpoint, Mapping):
        return None
    state, entry = _container_entry(checkpoint)
    if not is_tensor_dict(state):
        return None
    return strip_wrappers(state), entry


def _describe(layout: _Layout, config: SRConfig, entry: str) -> str:
    if config.arch == "rrdbnet":
        name = "RRDBNet"
        width = (
            f"num_feat {config.num_feat}, num_block {config.num_block}, "
            f"num_grow_ch {config.num_grow_ch}"
        )
    else:
        name = "MSRResNet"
        width = f"num_feat {config.num_feat}, num_block {config.num_block}"
    channels = f"{config.num_in_ch}→{config.num_out_ch} channels"
    origin = f", from '{entry}'" if entry else ""
    return f"{layout.source} {name} ×{config.scale} ({width}, {channels}{origin})"


class _SRImporter(Importer):
    """Shared logic: unwrap, recognise one of ``layouts``, rename, measure, confirm, load."""

    layouts: tuple[_Layout, ...] = ()

    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        """``overrides`` are ``--set`` values: ``scale`` settles a scale the file does not
        record, and every value is applied to the returned config. A setting that
        contradicts the file raises ``UserError`` instead of being ignored."""
        found = _tensor_dict(checkpoint)
        if found is None:
            return None
        state, entry = found
        layout = self._layout(state)
        return None if layout is None else _import(layout, state, entry, overrides or {})

    def _layout(self, state: Mapping[str, Any]) -> _Layout | None:
        return next((lay for lay in self.layouts if all(k in state for k in lay.marker_keys)), None)

    def canonical_state(self, checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
        """The file under BasicSR's names (torch-free): ESRGAN's layouts renamed."""
        found = _tensor_dict(checkpoint)
        layout = None if found is None else self._layout(found[0])
        if found is None or layout is None:
            return None
        try:
            return layout.to_basicsr(found[0])
        except ValueError:
            return None

    def detect(self, checkpoint: Mapping[str, Any]) -> bool:
        """One of this importer's layouts by its marker keys; nothing is built."""
        found = _tensor_dict(checkpoint)
        return found is not None and self._layout(found[0]) is not None


def _import(
    layout: _Layout, state: Mapping[str, Tensor], entry: str, overrides: Mapping[str, str]
) -> Imported | None:
    try:
        ours = layout.to_basicsr(state)
    except ValueError:
        return None
    given = apply_text(SRConfig(), overrides)
    values = {key: getattr(given, key) for key in overrides}
    settings = _READERS[layout.arch](ours, values.get("scale"))
    if settings is None:
        return None
    config = dataclasses.replace(SRConfig(), **{**settings, **values})
    generator = _matching_generator(config, ours)
    if generator is None:
        if values:
            assigned = " ".join(f"{key}={text}" for key, text in overrides.items())
            raise UserError(f"--set {assigned} does not fit this {layout.source} checkpoint")
        return None
    # Every tensor is about to be overwritten, so the storage need not be initialised; the
    # copy also converts half-precision files to float32.
    generator.to_empty(device="cpu")
    generator.load_state_dict(ours, strict=True)
    return Imported(
        family="sr",
        config=config,
        nets={"G": generator},
        description=_describe(layout, config, entry),
    )


class BasicSRImporter(_SRImporter):
    """RRDBNet and MSRResNet generators saved by BasicSR or released with Real-ESRGAN."""

    name = "basicsr"
    summary = "BasicSR / Real-ESRGAN generator .pth (RRDBNet ×1/×2/×4, MSRResNet ×2/×3/×4)"
    layouts = (_BASICSR_RRDBNET, _BASICSR_MSRRESNET)


class ESRGANImporter(_SRImporter):
    """ESRGAN generators from xinntao/ESRGAN, in its current and its pre-2019 key layout."""

    name = "esrgan"
    summary = "xinntao/ESRGAN RRDBNet .pth (RRDB_ESRGAN_x4.pth; old 'model.N' files too)"
    layouts = (_ESRGAN_RRDBNET, _ESRGAN_OLD_RRDBNET)


def importers() -> list[Importer]:
    """The SR family's importers. Ours know their layouts exactly and run at the default
    priority; spandrel's detection is the fallback for every other published architecture."""
    from imagexform_sr.spandrel_import import SpandrelImporter

    return [BasicSRImporter(), ESRGANImporter(), SpandrelImporter()]
