"""Which template a checkpoint fits: compare its keys and shapes, torch-free.

An importer first renames the file's keys to those of the state dict it loads
(:meth:`imagexform.family.Importer.canonical_state`); the result must then hold exactly the
template's keys with its shapes. Two kinds of extra key are tolerated, as the reference
loaders tolerate them: batch/instance-norm statistics the template's network does not keep
(PyTorch < 0.4 saved ``running_mean``/``running_var`` for affine-free InstanceNorm; the
published fast-neural-style and 2017 CycleGAN files carry them) and ``num_batches_tracked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imagexform.convert.templates import Template
from imagexform.family import Importer

STALE_STATISTICS = (".running_mean", ".running_var", ".num_batches_tracked")
CLOSE_SHARE = 0.5  # a file sharing this share of a template's keys is "that template, but..."


@dataclass(frozen=True)
class Match:
    template: Template
    importer: Importer
    state: dict[str, Any]  # the file's tensors under the template's keys


def first_difference(state: Mapping[str, Any], template: Template) -> str | None:
    """None when ``state`` fills ``template``; else the first differing key, said in words."""
    for key, shape in template.keys.items():
        value = state.get(key)
        if value is None:
            return f"{key} is missing"
        if tuple(value.shape) != shape:
            return f"{key} has shape {_shape(value.shape)} where {_shape(shape)} is expected"
    for key in state:
        if key not in template.keys and not key.endswith(STALE_STATISTICS):
            return f"{key} is not in the template"
    return None


def _shape(shape: Iterable[int]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def _share(state: Mapping[str, Any], template: Template) -> float:
    return sum(1 for key in template.keys if key in state) / max(1, len(template.keys))


def _readings(
    checkpoint: Mapping[str, Any], template: Template, importers: Sequence[Importer]
) -> Iterable[tuple[Importer, dict[str, Any]]]:
    """The file as each importer names its keys: the template's own importer first, then
    those that rename published layouts (an ESRGAN file fills BasicSR's RRDBNet graph)."""
    own = [i for i in importers if i.name == template.importer]
    renaming = [
        i
        for i in importers
        if i.name != template.importer and type(i).canonical_state is not Importer.canonical_state
    ]
    for importer in own + renaming:
        try:
            state = importer.canonical_state(checkpoint)
        except Exception:  # a plugin's renaming that trips over a foreign layout
            continue
        if state:
            yield importer, state


@dataclass(frozen=True)
class Verdict:
    """What matching found: the match, or the closest template's first difference."""

    match: Match | None
    closest: tuple[Template, str] | None
    tried: tuple[str, ...]


def match_templates(
    checkpoint: Mapping[str, Any], templates: Sequence[Template], importers: Sequence[Importer]
) -> Verdict:
    """The first template (in the order given) that the checkpoint fills exactly."""
    closest: tuple[float, Template, str] | None = None
    for template in templates:
        for importer, state in _readings(checkpoint, template, importers):
            difference = first_difference(state, template)
            if difference is None:
                wanted = {key: state[key] for key in template.keys}
                return Verdict(Match(template, importer, wanted), None, ())
            share = _share(state, template)
            if share >= CLOSE_SHARE and (closest is None or share > closest[0]):
                closest = (share, template, difference)
    near = None if closest is None else (closest[1], closest[2])
    return Verdict(None, near, tuple(t.name for t in templates))
