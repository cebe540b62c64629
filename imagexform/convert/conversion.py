"""Convert a published checkpoint to an imagexform ONNX model without torch.

Read the file with the allow-listed reader (:mod:`.checkpoint`), find the template whose keys
and shapes it has (:mod:`.matching`), fill that template's weights (:mod:`.fill`) and record
where the weights came from, as the torch import would. What this cannot do (an architecture
without a template, a ``--set`` that would change the network) is said in one line naming
the training extra, which converts any file with torch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagexform
from imagexform.config import apply_text, apply_values
from imagexform.convert.checkpoint import read_checkpoint
from imagexform.convert.fill import write_filled
from imagexform.convert.matching import Match, match_templates
from imagexform.convert.templates import Template, available_templates
from imagexform.errors import UserError
from imagexform.io.digest import file_sha256
from imagexform.modelinfo import ModelInfo
from imagexform.plugins import PluginHost, host

TRAIN_EXTRA = "pip install 'imagexform[train]'"


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


@dataclass(frozen=True)
class ConversionReport:
    path: Path
    size_bytes: int
    info: ModelInfo
    template: str
    importer: str
    seconds: float


def _check_overrides(
    path: Path, template: Template, overrides: Mapping[str, str], plugins: PluginHost
) -> None:
    """A ``--set`` is accepted only where the template already has that value: changing a
    setting could change the network, which only the torch import can rebuild."""
    if not overrides:
        return
    family = plugins.family(template.family)
    ours = apply_values(family.config_class(), template.info.config)
    asked = apply_text(ours, overrides)
    for key in overrides:
        if getattr(asked, key) != getattr(ours, key):
            raise UserError(
                f"{path}: --set {key}={overrides[key]} differs from the graph template "
                f"{template.name}'s {key}={getattr(ours, key)!r}; converting with other "
                f"settings needs the training extra ({TRAIN_EXTRA})"
            )


def _described(path: Path, match: Match, title: str | None) -> ModelInfo:
    template = match.template
    info = template.info
    provenance = {
        "source": "import",
        "file": path.name,
        "sha256": file_sha256(path),
        "importer": match.importer.name,
        "converter": "template",
        "template": template.name,
        "exporter": info.provenance.get("exporter", ""),
        "template_torch_version": template.made_with.get("torch", ""),
        "imagexform_version": imagexform.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    name = title or template.title or f"{template.family} from {path.name}"
    return dataclasses.replace(info, title=name, provenance=provenance)


def _match(path: Path, checkpoint: object, templates: list[Template], plugins: PluginHost) -> Match:
    if not isinstance(checkpoint, Mapping):
        raise UserError(f"{path}: holds a {type(checkpoint).__name__}, not a state dict")
    verdict = match_templates(checkpoint, templates, plugins.importers())
    if verdict.match is not None:
        return verdict.match
    if verdict.closest is not None:
        template, difference = verdict.closest
        raise UserError(
            f"{path}: looks like graph template {template.name} but {difference}; "
            f"other layouts convert with the training extra ({TRAIN_EXTRA})"
        )
    tried = ", ".join(verdict.tried) or "none installed"
    raise UserError(
        f"{path}: no graph template fits this checkpoint (tried: {tried}); converting it "
        f"needs the training extra ({TRAIN_EXTRA})"
    )


def convert_checkpoint(
    path: Path | str,
    output: Path | str,
    *,
    overrides: Mapping[str, str] | None = None,
    title: str | None = None,
    family_name: str | None = None,
    template_name: str | None = None,
    templates: Sequence[Template] | None = None,
    plugins: PluginHost | None = None,
) -> ConversionReport:
    """Convert ``path`` into ``output`` through the shipped template it fits (only
    ``template_name`` when given; only templates of ``family_name`` when given; only
    ``templates`` when given, e.g. ones made for a smaller configuration)."""
    started = time.perf_counter()
    path, output = Path(path), Path(output)
    if not output.parent.is_dir():
        raise UserError(f"{output}: folder {output.parent} does not exist")
    plugin_host = plugins or host()
    templates = [
        t
        for t in (available_templates(plugin_host) if templates is None else templates)
        if (template_name is None or t.name == template_name)
        and (family_name is None or t.family == family_name)
    ]
    match = _match(path, read_checkpoint(path), templates, plugin_host)
    _check_overrides(path, match.template, overrides or {}, plugin_host)
    info = _described(path, match, title)
    size = write_filled(match.template, match.state, info, output)
    return ConversionReport(
        output, size, info, match.template.name, match.importer.name, time.perf_counter() - started
    )
