"""What the editor remembers between sessions, in an INI file beside imagexform's other
settings (``$IMAGEXFORM_CONFIG_DIR`` moves both, for tests and side-by-side setups)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from imagexform.user_config import config_file

RECENT_LIMIT = 10


class EditorSettings:
    def __init__(self, path: Path | None = None) -> None:
        path = path or config_file().with_name("editor.ini")
        self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)

    def _get(self, key: str, default: str = "") -> str:
        value = self.qsettings.value(key, default)
        return str(value) if value is not None else default

    def _list(self, key: str) -> list[str]:
        value = self.qsettings.value(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return [str(item) for item in value or []]

    def folder(self, kind: str) -> str:
        """The folder last used to ``kind`` ("open", "save", "models", "batch")."""
        return self._get(f"folders/{kind}")

    def set_folder(self, kind: str, folder: Path) -> None:
        self.qsettings.setValue(f"folders/{kind}", str(folder))

    @property
    def model(self) -> str:
        return self._get("model")

    @model.setter
    def model(self, path: str) -> None:
        self.qsettings.setValue("model", path)

    @property
    def device(self) -> str:
        return self._get("device", "auto")

    @device.setter
    def device(self, device: str) -> None:
        self.qsettings.setValue("device", device)

    @property
    def quality(self) -> int:
        return int(self._get("quality", "95"))

    @quality.setter
    def quality(self, quality: int) -> None:
        self.qsettings.setValue("quality", quality)

    def recent(self) -> list[Path]:
        return [Path(item) for item in self._list("recent")]

    def add_recent(self, path: Path) -> None:
        recent = [str(path)] + [item for item in self._list("recent") if item != str(path)]
        self.qsettings.setValue("recent", recent[:RECENT_LIMIT])

    def added_models(self) -> list[Path]:
        return [Path(item) for item in self._list("models/added")]

    def set_added_models(self, paths: list[Path]) -> None:
        self.qsettings.setValue("models/added", [str(path) for path in paths])

    def geometry(self) -> bytes | None:
        value = self.qsettings.value("window/geometry")
        return bytes(value) if value is not None else None

    def set_geometry(self, geometry: bytes) -> None:
        self.qsettings.setValue("window/geometry", geometry)

    def window_state(self) -> bytes | None:
        """Where the docks and the toolbar are, and which are shown (``saveState``)."""
        value = self.qsettings.value("window/state")
        return bytes(value) if value is not None else None

    def set_window_state(self, state: bytes) -> None:
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()
