"""Typed configuration: build a family's config dataclass from defaults, a TOML file and
``--set key=value`` overrides, rejecting unknown keys and wrongly typed values by name.

Configs are flat dataclasses of scalars so that every setting can be given on the command line
and saved as JSON beside every checkpoint and ONNX file.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from imagexform.errors import ConfigError

ConfigT = TypeVar("ConfigT")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def field_types(config_class: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_class)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class)}


def describe_type(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def _parse_text(key: str, text: str, annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Literal:
        return _check_value(key, text, annotation)
    try:
        if annotation is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(text)
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
        if annotation is str:
            return text
    except ValueError:
        raise ConfigError(
            f"setting {key!r} expects {describe_type(annotation)}, got {text!r}"
        ) from None
    raise ConfigError(f"setting {key!r} has unsupported type {annotation!r}")


def _check_value(key: str, value: Any, annotation: Any) -> Any:
    """Validate an already-typed value (from TOML or JSON), allowing int where float is due."""
    if typing.get_origin(annotation) is typing.Literal:
        valid = value in typing.get_args(annotation)
    elif isinstance(value, bool):
        valid = annotation is bool
    elif annotation is float and isinstance(value, int):
        value, valid = float(value), True
    else:
        valid = annotation in (int, float, str) and isinstance(value, annotation)
    if not valid:
        raise ConfigError(f"setting {key!r} expects {describe_type(annotation)}, got {value!r}")
    return value


def _unknown_key(config_class: type, key: str) -> ConfigError:
    known = ", ".join(sorted(field_types(config_class)))
    return ConfigError(f"unknown setting {key!r} for {config_class.__name__}; known: {known}")


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """Split ``key=value`` strings from ``--set``."""
    parsed: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def apply_values(config: ConfigT, values: Mapping[str, Any]) -> ConfigT:
    """Return a copy of ``config`` with typed ``values`` (from TOML or JSON) applied."""
    types = field_types(type(config))
    changes = {}
    for key, value in values.items():
        if key not in types:
            raise _unknown_key(type(config), key)
        changes[key] = _check_value(key, value, types[key])
    return dataclasses.replace(config, **changes)


def apply_text(config: ConfigT, values: Mapping[str, str]) -> ConfigT:
    """Return a copy of ``config`` with command-line text ``values`` parsed and applied."""
    types = field_types(type(config))
    changes = {}
    for key, text in values.items():
        if key not in types:
            raise _unknown_key(type(config), key)
        changes[key] = _parse_text(key, text, types[key])
    return dataclasses.replace(config, **changes)


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def from_dict(config_class: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
    """Rebuild a config saved with ``dataclasses.asdict`` (checkpoint or ONNX metadata)."""
    return apply_values(config_class(), values)


def to_toml(config: Any) -> str:
    """Render a config as TOML, for ``--show-config`` and as a starting point for a file."""
    lines = []
    for key, value in dataclasses.asdict(config).items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, str):
            rendered = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            rendered = repr(value)
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


PATH_SETTING = "imagexform_path"


def path_setting(default: str = "", **kwargs: Any) -> Any:
    """A config field that names a local file or folder (a painting, a weights file, a run).

    Marked so that what is shared drops the folders: an exported model keeps only the base
    name, since its author's user name and folder layout are nobody else's business."""
    return dataclasses.field(default=default, metadata={PATH_SETTING: True}, **kwargs)


def path_settings(config_class: type) -> set[str]:
    """The names of ``config_class``'s fields declared with :func:`path_setting`."""
    return {f.name for f in dataclasses.fields(config_class) if f.metadata.get(PATH_SETTING)}
