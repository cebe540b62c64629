"""Take the README's screenshot of the editor: a shipped photo upscaled ×4 by the shipped
model, compare slider half-way, zoomed in on detail. Run under a real X server:

    xvfb-run -s "-screen 0 1400x900x24" python scripts/editor_screenshot.py docs/editor.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
from PySide6.QtCore import QEventLoop, QPointF, QTimer

from imagexform.app.main import application
from imagexform.app.settings import EditorSettings
from imagexform.app.window import MainWindow

ROOT = Path(__file__).resolve().parents[1]


def wait(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def main(target: Path) -> None:
    app = application()
    work = Path(tempfile.mkdtemp())
    photo = cv2.imread(str(ROOT / "assets" / "photos" / "chelsea.jpg"))
    small = cv2.resize(
        photo, (photo.shape[1] // 3, photo.shape[0] // 3), interpolation=cv2.INTER_AREA
    )
    cv2.imwrite(str(work / "chelsea-small.png"), small)
    window = MainWindow(EditorSettings(work / "editor.ini"))
    window.resize(1400, 860)
    window.show()
    window.open_image(work / "chelsea-small.png")
    window.panel.select_path(ROOT / "assets" / "models" / "imagexform-sr-x4.onnx")
    window.apply_model()
    while window.run_job is not None:
        wait(100)
    view = window.view
    view.fit()
    view.zoom_at(1.6, QPointF(view.width() * 0.5, view.height() * 0.45))
    view.set_slider(0.5)
    wait(300)
    window.grab().save(str(target))
    app.quit()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
