"""Creating the Qt application and the window; shared by the command and the tests."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from imagexform.app.window import MainWindow


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("imagexform")
    app.setOrganizationName("imagexform")
    return app


def run(image: Path | None = None, model: Path | None = None) -> int:
    app = application()
    window = MainWindow()
    if model is not None:
        window.add_model(model)
    window.show()
    if image is not None:
        window.open_image(image)
    return app.exec()
