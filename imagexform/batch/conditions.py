"""Condition values from the command line, checked against what the model declares.

A model's conditions (attribute vectors and other graph inputs) come from its metadata, so the
same flags work for every family: ``--set NAME=v1,v2,...`` gives a whole vector,
``--set LABEL=value`` one labelled entry.
Mistakes are usage errors that list what the model accepts, before any image is read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from imagexform.errors import UserError
from imagexform.family import ConditionSpec


def build_conditions(
    specs: Sequence[ConditionSpec],
    assignments: Sequence[str],
) -> dict[str, list[float]]:
    """Full vectors for every condition the user touched; untouched ones are left to the
    runtime's defaults.

    A labelled entry starts from the condition's defaults (its range's low end where it has
    none). Setting a label of a mutually exclusive group above the low end sets the group's
    other labels to the low end unless they are set too, so ``--set Blond_Hair=1`` on a face
    that defaults to black hair gives blond hair, not both.
    """
    by_name = {spec.name: spec for spec in specs}
    by_label = {label: spec for spec in specs for label in spec.labels}
    vectors: dict[str, list[float]] = {}
    labelled: list[tuple[ConditionSpec, str, float]] = []
    for name, values in map(_split, assignments):
        if name in by_name:
            spec = by_name[name]
            expected = len(spec.labels) or len(spec.defaults)
            if expected and len(values) != expected:
                raise UserError(
                    f"--set {name}: expected {expected} value(s), got {len(values)}; "
                    f"{_describe(spec)}"
                )
            for value in values:
                _check_range(name, spec, value)
            vectors[name] = list(values)
        elif name in by_label:
            spec = by_label[name]
            if len(values) != 1:
                raise UserError(f"--set {name}: a label takes one value, got {len(values)}")
            _check_range(name, spec, values[0])
            labelled.append((spec, name, values[0]))
        else:
            raise UserError(f"--set {name}: unknown condition; {_menu(specs)}")

    explicit = {(spec.name, label) for spec, label, _ in labelled}
    for spec, label, value in labelled:
        vector = vectors.setdefault(spec.name, _base(spec))
        vector[spec.labels.index(label)] = value
        if value <= spec.value_range[0]:
            continue
        for group in spec.groups:
            if label not in group:
                continue
            for other in group:
                if other != label and (spec.name, other) not in explicit:
                    vector[spec.labels.index(other)] = float(spec.value_range[0])
    return vectors


def _split(text: str) -> tuple[str, list[float]]:
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name or not raw.strip():
        raise UserError(f"--set {text!r}: expected NAME=VALUE or NAME=V1,V2,...")
    try:
        values = [float(part) for part in raw.split(",")]
    except ValueError:
        raise UserError(f"--set {text!r}: values must be numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"--set {text!r}: values must be finite numbers")
    return name, values


def _check_range(name: str, spec: ConditionSpec, value: float) -> None:
    low, high = spec.value_range
    if not low <= value <= high:
        raise UserError(f"--set {name}={value:g}: out of range; {_describe(spec)}")


def _base(spec: ConditionSpec) -> list[float]:
    if len(spec.defaults) == len(spec.labels):
        return [float(v) for v in spec.defaults]
    return [float(spec.value_range[0])] * len(spec.labels)


def _describe(spec: ConditionSpec) -> str:
    low, high = spec.value_range
    text = f"'{spec.name}' takes values in [{low:g}, {high:g}]"
    if spec.labels:
        text += f" for labels {', '.join(spec.labels)}"
    return text


def _menu(specs: Sequence[ConditionSpec]) -> str:
    if not specs:
        return "this model takes no conditions"
    listed = "; ".join(
        spec.name + (f" (labels: {', '.join(spec.labels)})" if spec.labels else "")
        for spec in specs
    )
    return f"this model takes: {listed}"
