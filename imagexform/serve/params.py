"""What one transform request asks for, from form fields or the query string.

Both carry the same names, so a curl one-liner, an HTML form and a raw-body upload say the
same thing: ``format``, ``quality``, ``strength``, ``preserve_color``, ``outscale`` and
``metadata`` (keep or strip). Any other field is a condition, by name (``shift=0.1,0``) or by
label (``Blond_Hair=1``), read exactly as ``imagexform batch --set`` reads it, so an unknown
label is refused with the list of those the model takes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imagexform.batch.conditions import build_conditions
from imagexform.batch.plan import DEFAULT_QUALITY, FORMATS
from imagexform.errors import UserError
from imagexform.runtime.adjustments import MAX_OUTSCALE, Adjustments

if TYPE_CHECKING:
    from imagexform.runtime import RuntimeModel

OPTIONS = ("format", "quality", "strength", "preserve_color", "outscale", "metadata")
SAME = "same"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class TransformOrder:
    extension: str | None = None  # None: the upload's own format
    quality: int = DEFAULT_QUALITY
    adjustments: Adjustments = field(default_factory=Adjustments)
    conditions: dict[str, list[float]] = field(default_factory=dict)
    keep_metadata: bool = True


def parse_order(model: RuntimeModel, fields: Sequence[tuple[str, str]]) -> TransformOrder:
    """The request's fields, checked against ``model``; a bad one is a :class:`UserError`
    naming the field and what it accepts."""
    options: dict[str, str] = {}
    assignments = []
    for key, value in fields:
        if key in OPTIONS:
            options[key] = value.strip()
        else:
            assignments.append(f"{key}={value}")
    return TransformOrder(
        extension=_extension(options.get("format", SAME)),
        quality=int(_number(options, "quality", DEFAULT_QUALITY, 1, 100, whole=True)),
        adjustments=Adjustments(
            strength=_number(options, "strength", 1.0, 0.0, 1.0),
            preserve_color=_flag(options, "preserve_color"),
            outscale=_number(options, "outscale", None, 0.0, MAX_OUTSCALE),
        ),
        conditions=_conditions(model, assignments),
        keep_metadata=_metadata(options.get("metadata", "keep")),
    )


def _extension(value: str) -> str | None:
    if value == SAME:
        return None
    if value not in FORMATS:
        raise UserError(f"format {value!r}: expected one of {SAME}, {', '.join(FORMATS)}")
    return FORMATS[value]


def _number(
    options: dict[str, str],
    name: str,
    default: float | None,
    low: float,
    high: float,
    whole: bool = False,
) -> float | None:
    text = options.get(name)
    if text is None:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise UserError(f"{name} {text!r}: expected {kind} from {low:g} to {high:g}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(f"{name} {text!r}: expected a value from {low:g} to {high:g}")
    return value


def _flag(options: dict[str, str], name: str) -> bool:
    text = options.get(name, "false").lower()
    if text not in _TRUE + _FALSE:
        raise UserError(f"{name} {text!r}: expected true or false")
    return text in _TRUE


def _metadata(value: str) -> bool:
    if value not in ("keep", "strip"):
        raise UserError(f"metadata {value!r}: expected keep (EXIF and ICC carried over) or strip")
    return value == "keep"


def _conditions(model: RuntimeModel, assignments: Sequence[str]) -> dict[str, list[float]]:
    try:
        conditions = build_conditions(model.info.io.conditions, assignments)
        model.check_conditions(conditions)
    except UserError as exc:
        # batch's messages name its --set flag; here the same setting is a field.
        raise UserError(str(exc).removeprefix("--set ")) from None
    return conditions
