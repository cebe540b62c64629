"""What an exported model may say about the machine it was made on.

Models are made to be shared, so a file must not carry its author's user name or folder
layout. Settings declared as paths keep their base name, and any other string that is an
absolute path (a third-party family that did not declare its path settings, a provenance
field) is reduced the same way. ``--provenance full`` keeps everything, for private use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Literal

from imagexform.config import path_settings

Provenance = Literal["shareable", "full"]


def is_local_path(text: str) -> bool:
    """Whether ``text`` is an absolute path on any common system, or home-relative."""
    return (
        text.startswith("~")
        or PurePosixPath(text).is_absolute()
        or PureWindowsPath(text).is_absolute()
    )


def base_name(text: str) -> str:
    """The last component of a POSIX or Windows path (``C:\\Users\\me\\a.png`` → ``a.png``)."""
    return PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name


def _reduce(value: Any) -> Any:
    if isinstance(value, str):
        return base_name(value) if value and is_local_path(value) else value
    if isinstance(value, Mapping):
        return {key: _reduce(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reduce(item) for item in value]
    return value


def shareable_config(config: Any) -> dict[str, Any]:
    """``config`` as a dict whose path settings and absolute paths keep their base names."""
    values = config.to_dict()
    for name in path_settings(type(config)):
        if values.get(name):
            values[name] = base_name(str(values[name]))
    return _reduce(values)


def shareable_provenance(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """``provenance`` with every absolute path reduced to its base name."""
    return _reduce(provenance)
