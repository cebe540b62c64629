"""Run as a script: open IMAGE in the editor, apply MODEL, print what happened as JSON.

Used by tests that need a fresh process: to see which modules the editor imports, and to use
a plugin's model in the editor inside the plugin's own environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from imagexform.app.library import ModelLibrary
from imagexform.app.main import application
from imagexform.app.window import MainWindow


def main(model: Path, image: Path) -> None:
    application()
    window = MainWindow(library=ModelLibrary(shipped=model.parent))
    window.show()
    window.open_image(image)
    assert window.panel.select_path(model), f"{model} is not listed"
    window.apply_model()
    while window.run_job is not None:
        QCoreApplication.processEvents()
    loaded = {name.split(".")[0] for name in sys.modules}
    report = {
        "steps": window.document.undo_stack.count(),
        "error": window.last_error,
        "family": window.library.describe(model).info.family,
        "shape": list(window.document.image.shape),
        "heavy": sorted(loaded & {"torch", "torchvision", "onnx"}),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
