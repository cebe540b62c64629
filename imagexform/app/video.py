"""A video in the editor: shown one frame at a time, picked with a slider under the picture.

The frame on screen is the document's picture, so Apply and the live preview work on it as
on a photo; moving the slider opens another frame (its edits are not carried over). The
whole video is transformed by the batch dialog, which runs it like ``imagexform batch``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from imagexform.app.document import Document
from imagexform.errors import UserError
from imagexform.io.video import VideoInfo, frame_count, probe_video, read_frame

SEEK_DELAY_MS = 120  # slider moves within this are one seek


class FrameSlider(QWidget):
    """Hidden until a video is opened; ``open`` raises (a UserError) on an unreadable one,
    a frame that cannot be read later is told through ``failed``."""

    failed = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.info: VideoInfo | None = None
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(0)
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.slider)
        layout.addWidget(self.label)
        self.timer = QTimer(self, singleShot=True, interval=SEEK_DELAY_MS)
        self.timer.timeout.connect(lambda: self.show_frame(self.slider.value()))
        self.slider.valueChanged.connect(lambda _: self.timer.start())
        self.setVisible(False)

    @property
    def path(self) -> Path | None:
        return self.info.path if self.info is not None else None

    def open(self, path: Path) -> None:
        """Show the video's first frame and the slider over all its frames."""
        info = probe_video(path)
        first = read_frame(info, 0)
        self.info = info
        self.slider.blockSignals(True)
        self.slider.setMaximum(frame_count(info) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._show(0, first)
        self.setVisible(True)

    def close_video(self) -> None:
        self.info = None
        self.timer.stop()
        self.setVisible(False)

    def show_frame(self, index: int) -> None:
        if self.info is None:
            return
        try:
            frame = read_frame(self.info, index)
        except UserError as exc:
            self.failed.emit(str(exc))
            return
        self._show(index, frame)

    def _show(self, index: int, frame: object) -> None:
        assert self.info is not None
        seconds = index / self.info.fps
        self.label.setText(f"frame {index} of {self.slider.maximum() + 1}, {seconds:.2f} s")
        self.document.open_pixels(frame, f"{self.info.path.stem}-frame{index:05d}.png")


def with_slider(view: QWidget, slider: FrameSlider) -> QWidget:
    """The picture with the frame slider under it, as the window's central widget."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(view, 1)
    layout.addWidget(slider)
    return holder
