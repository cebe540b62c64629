"""Where an exported network comes from, and the record of it the file keeps.

A checkpoint brings its own family, config and step; a foreign file (a reference repository's
``.pth``) is recognised by whichever plugin importer claims it. Either way the resulting
:class:`ModelInfo` carries enough provenance (hashes, step, versions) to trace a file in the
wild back to the exact weights it was made from.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import imagexform
from imagexform.config import from_dict
from imagexform.errors import UserError
from imagexform.export.onnx_export import ExportReport, check_destination, export_onnx
from imagexform.export.parity import base_edge
from imagexform.export.shareable import Provenance, shareable_config, shareable_provenance
from imagexform.family import IOSpec
from imagexform.io.digest import file_sha256
from imagexform.modelinfo import ModelInfo
from imagexform.plugins import PluginHost, host
from imagexform.train.checkpoint import CHECKPOINTS, EMA, WEIGHTS, Checkpoint, load_checkpoint
from imagexform.train.restore import Trained, load_trained


def _export_versions() -> dict[str, str]:
    return {
        "imagexform_version": imagexform.__version__,
        "torch_version": torch.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _net_io(net: nn.Module, family_io: IOSpec, name: str) -> tuple[IOSpec, str]:
    """The IOSpec of one network exported on its own (``--net``), which need not take or give
    what the family's inference module does: a conditional discriminator reads input and
    output stacked. The channel count comes from its first convolution and the output from a
    probe; a network whose output is not an image at an integer scale is described as such."""
    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)), None)
    channels = first.in_channels if first is not None else family_io.channels
    edge = base_edge(family_io.size_multiple)
    probe = torch.zeros(1, channels, edge, edge)
    try:
        with torch.inference_mode():
            out = net.eval()(probe)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"network {name!r} does not run on a {channels}-channel image of {edge}×{edge} "
            f"({reason})"
        ) from None
    out_edge = out.shape[-1]
    note = ""
    scale = family_io.scale
    if out.dim() == 4 and out_edge >= edge and out_edge % edge == 0:
        scale = out_edge // edge
    else:
        note = (
            f"network {name!r} alone; its output ({'×'.join(map(str, out.shape[1:]))} for a "
            f"{channels}×{edge}×{edge} input) is not an image at the input's scale"
        )
    io = dataclasses.replace(
        family_io,
        channels=channels,
        out_channels=int(out.shape[1]) if out.dim() >= 2 else 1,
        scale=scale,
        conditions=(),
    )
    return io, note


def export_checkpoint(
    checkpoint_path: Path | str,
    output_path: Path | str,
    *,
    net: str | None = None,
    variant: str | None = None,
    use_ema: bool = True,
    fp16: bool = False,
    tolerance: float | None = None,
    plugins: PluginHost | None = None,
    title: str | None = None,
    description: str | None = None,
    provenance: Provenance = "shareable",
) -> ExportReport:
    """Export a run's (or one checkpoint's) family inference module, network ``net``, or
    one of the family's named ``variant`` exports.

    With ``use_ema`` the averaged weights replace the raw ones for every network that has
    them; the provenance says which did, and hashes the weight files that were read.
    ``title`` and ``description`` are what users of the file see (the editor's model panel,
    ``models info``); by default they name the family, run and step, and the family.
    ``provenance="full"`` records the run's and checkpoint's absolute paths and keeps path
    settings whole; by default the file names only the run, the step and the hashes.
    """
    output = check_destination(Path(output_path))
    trained = load_trained(Path(checkpoint_path), use_ema=use_ema, plugins=plugins)
    family, config, checkpoint = trained.family, trained.config, trained.checkpoint
    if variant is not None:
        variants = family.variants(config)
        if variant not in variants:
            offered = ", ".join(variants) or "none"
            raise UserError(
                f"{checkpoint.path}: {family.name} has no variant {variant!r} (variants: {offered})"
            )
        net = variants[variant]
    module, io, summary = _chosen_module(trained, net)
    candidates = set(checkpoint.ema) if net is None else {net}
    ema_nets = sorted(candidates & set(checkpoint.ema)) if use_ema else []
    run_dir = checkpoint.path.parent.parent if checkpoint.path.parent.name == CHECKPOINTS else None
    name = (run_dir or checkpoint.path).resolve().name
    full = provenance == "full"
    record = _checkpoint_provenance(checkpoint, run_dir, net, ema_nets, full)
    info = ModelInfo(
        family=family.name,
        io=io,
        title=title
        or f"{family.name} {name} {variant or net or ''}".rstrip() + f" (step {checkpoint.step})",
        description=description or summary,
        config=config.to_dict() if full else shareable_config(config),
        plugin=checkpoint.meta.get("plugin"),
        plugin_version=checkpoint.meta.get("plugin_version"),
        tile=family.tile_hints(config),
        provenance=record if full else shareable_provenance(record),
        variant=variant or "",
        role=family.variant_role(config, variant) if variant else "",
        icon=str(checkpoint.meta.get("icon", "")),
    )
    return export_onnx(module, info, output, fp16=fp16, tolerance=tolerance)


def _chosen_module(trained: Trained, net: str | None) -> tuple[nn.Module, IOSpec, str]:
    """The module to export (the family's inference module, or network ``net``), its IOSpec
    and the summary that describes it."""
    family, config, checkpoint = trained.family, trained.config, trained.checkpoint
    family_io = family.io_spec(config)
    if net is None:
        return family.inference_module(config, trained.nets), family_io, family.summary
    modules = family.export_modules(config, trained.nets)
    if net not in modules:
        raise UserError(
            f"{checkpoint.path}: has no network {net!r}; it has {', '.join(sorted(modules))}"
        )
    io, note = _net_io(modules[net], family_io, net)
    return modules[net], io, note or family.summary


def _checkpoint_provenance(
    checkpoint: Checkpoint,
    run_dir: Path | None,
    net: str | None,
    ema_nets: list[str],
    full: bool,
) -> dict[str, Any]:
    """What the file says of its weights: the run's and checkpoint's names (``full``: their
    absolute paths), the step and the hashes of the weight files read."""
    run = run_dir.resolve() if run_dir else None
    provenance: dict[str, Any] = {
        "source": "checkpoint",
        "run": (str(run) if full else run.name) if run else None,
        "checkpoint": str(checkpoint.path.resolve()) if full else checkpoint.path.name,
        "step": checkpoint.step,
        "net": net,
        "weights_sha256": file_sha256(checkpoint.path / WEIGHTS),
        "ema": bool(ema_nets),
        "ema_nets": ema_nets,
        "trained_with": {
            "imagexform_version": checkpoint.meta.get("imagexform_version"),
            "torch_version": checkpoint.meta.get("torch_version"),
        },
        **_export_versions(),
    }
    if ema_nets:
        provenance["ema_sha256"] = file_sha256(checkpoint.path / EMA)
    return provenance


def variant_names(checkpoint_path: Path | str, plugins: PluginHost | None = None) -> list[str]:
    """The variants a run's family exports (``--variant all``); a UserError when none."""
    checkpoint = load_checkpoint(Path(checkpoint_path))
    family = (plugins or host()).family(checkpoint.family)
    names = list(family.variants(from_dict(family.config_class, checkpoint.meta["config"])))
    if not names:
        raise UserError(f"{checkpoint.path}: {family.name} models have no variants to export")
    return names


def import_foreign(*args: Any, **kwargs: Any) -> ExportReport:
    """Moved to :func:`imagexform.export.importing.import_foreign` (importer priority,
    detection, the exporter fallback); kept here for existing callers."""
    from imagexform.export.importing import import_foreign as run_import

    return run_import(*args, **kwargs)
