"""``imagexform import``: choose an importer for a foreign file, load it, describe it, export it.

Importers are asked as spandrel asks its architectures: each :class:`Importer` first
*detects* (keys and shapes only, nothing built), and only the first match by explicit
``priority`` *loads*. Our exact importers (junyanz, TransformerNet, StarGAN, BasicSR/ESRGAN
key tables) keep the default priority; spandrel, which recognises 40-odd architectures by the
same means, is the fallback with a higher number. ``import --explain`` lists every importer
with its verdict, and the chosen one is named in the output and in the file's provenance.

The size of a network is measured here, once, for every import: its parameter count and the
GFLOPs it spends per megapixel of input (torch's FlopCounterMode, which counts convolutions
and matrix products, on a small input), so ``models info`` and the editor can show it
without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from imagexform.convert.statedict import unwrap_state_dict
from imagexform.errors import UserError
from imagexform.export.exporters import EXPORTERS, Rebuild, export_with_fallback
from imagexform.export.foreign_files import read_foreign
from imagexform.export.onnx_export import ExportReport, check_destination
from imagexform.export.parity import base_edge, example_inputs
from imagexform.export.shareable import shareable_config
from imagexform.family import Imported, Importer, IOSpec
from imagexform.modelinfo import ModelInfo
from imagexform.plugins import PluginHost, host

FIRST_KEYS_SHOWN = 5
MEASURE_EDGE = 64  # input edge the FLOPs are counted at (rounded up to the size multiple)


def ranked_importers(plugins: PluginHost, only: str | None = None) -> list[Importer]:
    """Every importer (or just the one named ``only``), lowest ``priority`` first; ties keep
    registration order."""
    importers = sorted(plugins.importers(), key=lambda importer: importer.priority)
    if only is None:
        return importers
    chosen = [importer for importer in importers if importer.name == only]
    if not chosen:
        names = ", ".join(importer.name for importer in importers) or "none"
        raise UserError(f"no importer is called {only!r} (importers: {names})")
    return chosen


def explain_import(
    path: Path, plugins: PluginHost | None = None, only: str | None = None
) -> list[tuple[Importer, bool]]:
    """Each importer in the order it is asked, with whether it detects ``path``."""
    importers = ranked_importers(plugins or host(), only)
    checkpoint = _mapping(path, read_foreign(path), importers)
    return [(importer, importer.detect(checkpoint)) for importer in importers]


def _mapping(path: Path, checkpoint: Any, importers: Sequence[Importer]) -> Mapping[str, Any]:
    if not isinstance(checkpoint, Mapping):
        names = ", ".join(i.name for i in importers) or "none"
        raise UserError(
            f"{path}: holds a {type(checkpoint).__name__}, not a state dict; no importer "
            f"can read it (importers: {names})"
        )
    return checkpoint


def _first_keys(checkpoint: Mapping[str, Any]) -> str:
    state, _ = unwrap_state_dict(checkpoint)
    keys = list(state or checkpoint)[:FIRST_KEYS_SHOWN]
    return ", ".join(map(str, keys)) or "none"


def select(
    path: Path,
    checkpoint: Mapping[str, Any],
    importers: Sequence[Importer],
    overrides: Mapping[str, str] | None = None,
) -> tuple[Importer, Imported]:
    """The first importer (in the given order) that detects and then loads ``checkpoint``.

    An importer that detects but cannot load (a wrongly shaped tensor, a setting only the user
    knows) raises its UserError naming ``path``; a plugin's bug is noted and the next one
    tries. When none matches, one line lists the importers tried and the file's first keys."""
    refusals = []
    for importer in importers:
        asks_load = type(importer).detect is Importer.detect  # its detect would load anyway
        if not asks_load and not importer.detect(checkpoint):
            refusals.append(importer.name)
            continue
        try:
            imported = importer.load(checkpoint, overrides)
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
        except Exception as exc:
            refusals.append(f"{importer.name} (raised {type(exc).__name__}: {exc})")
            continue
        if imported is not None:
            return importer, imported
        refusals.append(importer.name)
    raise UserError(
        f"{path}: no importer recognises this checkpoint (tried: "
        f"{', '.join(refusals) or 'none; no plugin provides an importer'}); "
        f"its first keys: {_first_keys(checkpoint)}"
    )


def measure(module: nn.Module, io: IOSpec) -> dict[str, Any]:
    """Parameter count and GFLOPs per megapixel of input, counted on one small input (with
    the conditions the model takes, at random values)."""
    from torch.utils.flop_counter import FlopCounterMode

    multiple = io.size_multiple
    edge = max(base_edge(multiple), multiple * math.ceil(MEASURE_EDGE / multiple))
    inputs = example_inputs(ModelInfo(family="", io=io), (1, edge, edge), torch.Generator())
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.inference_mode():
            module.eval()(*inputs)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"the network does not run in torch on a {io.channels}×{edge}×{edge} image ({reason})"
        ) from None
    return {
        "parameters": sum(p.numel() for p in module.parameters()),
        "gflops_per_megapixel": round(counter.get_total_flops() / (edge * edge) * 1e6 / 1e9, 3),
    }


def rebuild_module(rebuild: Rebuild, plugins: PluginHost | None = None) -> nn.Module:
    """The module an import of ``rebuild.path`` by ``rebuild.importer`` exports (the
    dynamo exporter's child process rebuilds it this way)."""
    plugin_host = plugins or host()
    importer = next(i for i in plugin_host.importers() if i.name == rebuild.importer)
    path = Path(rebuild.path)
    imported = importer.load(_mapping(path, read_foreign(path), []), rebuild.overrides)
    if imported is None:
        raise UserError(f"{path}: importer {rebuild.importer} no longer recognises it")
    imported = adopted(path, imported, plugin_host, rebuild.family)
    family = plugin_host.family(imported.family)
    return family.inference_module(imported.config, imported.nets)


def adopted(
    path: Path, imported: Imported, plugin_host: PluginHost, family_name: str | None
) -> Imported:
    """``imported`` as the family ``family_name`` reads it (:meth:`Family.adopt`), when the
    user or the catalog says which family trained the file; unchanged when it says nothing
    or names the importer's own family."""
    if family_name is None or family_name == imported.family:
        return imported
    family = plugin_host.family(family_name)
    taken = family.adopt(imported)
    if taken is None:
        raise UserError(
            f"{path}: holds a {imported.family} model ({imported.description}), which "
            f"{family.name} cannot take"
        )
    return taken


def _model_info(
    path: Path, importer: Importer, imported: Imported, plugin_host: PluginHost, title: str | None
) -> tuple[nn.Module, ModelInfo]:
    from imagexform.export.sources import _export_versions
    from imagexform.io.digest import file_sha256

    family = plugin_host.family(imported.family)
    owner = plugin_host.records[plugin_host.family_owner(family.name)]
    module = family.inference_module(imported.config, imported.nets)
    io = family.io_spec(imported.config)
    info = ModelInfo(
        family=family.name,
        io=io,
        title=title or imported.architecture.get("title") or f"{family.name} from {path.name}",
        description=imported.description,
        config=shareable_config(imported.config),
        plugin=owner.name,
        plugin_version=owner.version,
        tile=family.tile_hints(imported.config),
        provenance={
            "source": "import",
            "file": path.name,
            "sha256": file_sha256(path),
            "importer": importer.name,
            **_export_versions(),
        },
        task=imported.task,
        architecture={**imported.architecture, **measure(module, io)},
    )
    return module, info


def import_foreign(
    path: Path | str,
    output_path: Path | str,
    *,
    fp16: bool = False,
    tolerance: float | None = None,
    plugins: PluginHost | None = None,
    overrides: Mapping[str, str] | None = None,
    title: str | None = None,
    only: str | None = None,
    exporters: Sequence[str] = EXPORTERS,
    family_name: str | None = None,
) -> ExportReport:
    """Export a foreign checkpoint through the first importer (by priority) that recognises
    it, with the first of ``exporters`` whose file passes the parity check.

    ``overrides`` (``--set key=value`` texts) settle what the file itself cannot tell;
    ``title`` names the model for its users (by default the architecture, or the family and
    the file's name); ``only`` names the one importer to ask; ``family_name`` is the family
    that trained it, when the file cannot say (a junyanz generator is pix2pix's or CycleGAN's)."""
    path = Path(path)
    output = check_destination(Path(output_path))
    plugin_host = plugins or host()
    importers = ranked_importers(plugin_host, only)
    checkpoint = _mapping(path, read_foreign(path), importers)
    importer, imported = select(path, checkpoint, importers, overrides)
    imported = adopted(path, imported, plugin_host, family_name)
    if fp16 and imported.architecture.get("supports_half") is False:
        name = imported.architecture.get("name", importer.name)
        raise UserError(f"{path}: {name} does not compute correctly in half precision; drop --fp16")
    try:
        module, info = _model_info(path, importer, imported, plugin_host, title)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    rebuild = None
    if importer.isolate_export:
        rebuild = Rebuild(str(path.resolve()), importer.name, dict(overrides or {}), family_name)
    return export_with_fallback(
        module, info, output, path, rebuild, exporters=exporters, fp16=fp16, tolerance=tolerance
    )


def describe_choice(choices: list[tuple[Importer, bool]]) -> list[str]:
    """``import --explain``'s lines: every importer in order, its verdict, the one chosen."""
    chosen = next((importer for importer, detected in choices if detected), None)
    lines = []
    for importer, detected in choices:
        mark = "chosen" if importer is chosen else "detects" if detected else "no"
        summary = f" ({importer.summary})" if importer.summary else ""
        lines.append(f"{importer.priority:>5}  {importer.name:<18} {mark:<8}{summary}")
    return lines
