"""Settings a user changes with commands and expects to stay changed: which plugins are off.

A small JSON file in the user's config folder (``$IMAGEXFORM_CONFIG_DIR`` overrides it, for
tests and for several setups side by side), written atomically so a crash never leaves it
half-written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from imagexform.errors import UserError

CONFIG_ENV = "IMAGEXFORM_CONFIG_DIR"


def config_file() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured) / "config.json"
    import platformdirs

    return Path(platformdirs.user_config_dir("imagexform")) / "config.json"


def _read() -> dict:
    path = config_file()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable settings ({exc}); fix or delete the file") from None


def disabled_plugins() -> set[str]:
    return set(_read().get("disabled_plugins", []))


def set_plugin_disabled(name: str, disabled: bool) -> None:
    settings = _read()
    names = set(settings.get("disabled_plugins", []))
    names = names | {name} if disabled else names - {name}
    settings["disabled_plugins"] = sorted(names)
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    from imagexform.io.images import write_bytes_atomic  # OpenCV-backed: only when writing

    write_bytes_atomic(path, json.dumps(settings, indent=2).encode())
