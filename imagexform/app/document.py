"""The open image and its history: every applied transformation is one undo step.

The document holds full-precision pixels (16-bit stays 16-bit) and the original file's
EXIF/ICC, so a save after any number of steps writes what the batch command would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from imagexform.io.images import decode_image, read_file_bytes
from imagexform.io.metadata import ImageMetadata, extract_metadata

UNDO_LIMIT = 20  # every step holds a full image: 20 steps of a 48 MP photo are 3 GB


class Document(QObject):
    """``image`` is the current state; ``changed`` fires after open, apply, undo and redo,
    ``replaced`` after open only (a different picture, not a step of this one's history)."""

    changed = Signal()
    replaced = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None  # None for a pasted or dropped image
        self.name = ""  # the file's name, or one to save a pasted image under
        self.image: np.ndarray | None = None
        self.metadata = ImageMetadata()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        # The stack's index moves after a step's redo/undo ran, so listeners see both the new
        # image and the step that made it.
        self.undo_stack.indexChanged.connect(self.changed)

    def open(self, path: Path) -> None:
        """Read ``path``; on any error raise and leave the current image as it was."""
        data = read_file_bytes(path)
        image = decode_image(data, path)
        self.path, self.image, self.metadata = path, image, extract_metadata(data)
        self.name = path.name
        self._replaced()

    def open_pixels(self, image: np.ndarray, name: str) -> None:
        """A pasted image: no file, no metadata, saved with Save As."""
        self.path, self.image, self.metadata = None, image, ImageMetadata()
        self.name = name
        self._replaced()

    def _replaced(self) -> None:
        self.undo_stack.clear()
        self.replaced.emit()
        self.changed.emit()

    def apply(self, result: np.ndarray, label: str) -> None:
        """Make ``result`` the current image, as an undoable step named ``label``."""
        assert self.image is not None
        self.undo_stack.push(_Step(self, self.image, result, label))

    def set_image(self, image: np.ndarray) -> None:
        self.image = image


class _Step(QUndoCommand):
    def __init__(
        self, document: Document, before: np.ndarray, after: np.ndarray, label: str
    ) -> None:
        super().__init__(label)
        self.document, self.before, self.after = document, before, after

    def redo(self) -> None:
        self.document.set_image(self.after)

    def undo(self) -> None:
        self.document.set_image(self.before)
