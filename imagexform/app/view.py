"""The image view: zoom, pan, and before/after comparison over one viewport.

Both images are drawn into one scene the size of the result (a ×4 upscale is compared at its
own resolution, the original stretched over it), so a point on screen is the same point of
the photo on either side of the compare slider. Zoom 100% shows one result pixel per screen
pixel.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

ZOOM_STEP = 1.25  # per wheel notch
ZOOM_RANGE = (0.02, 32.0)
SLIDER_GRAB = 8  # pixels either side of the compare line that grab it


class CompareMode(enum.Enum):
    SLIDER = "slider"  # before left of the line, after right of it
    SIDE_BY_SIDE = "side"  # the same region twice, next to each other
    TOGGLE = "toggle"  # one at a time


class ImageView(QWidget):
    zoom_changed = Signal(float)
    slider_moved = Signal(float)
    viewport_changed = Signal()  # after a zoom, a pan or a resize: another region is in view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.overlays: list[tuple[QImage, QRectF]] = []  # drawn over the after side
        self.mode = CompareMode.SLIDER
        self.slider = 0.5  # the compare line, as a fraction of the view's width
        self.showing_before = False  # toggle mode
        self.zoom = 1.0
        self.origin = QPointF(0, 0)  # the scene point at the view's top-left corner
        self._drag: tuple[str, QPointF] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(200, 150)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def scene_size(self) -> QSizeF:
        shown = self.after or self.before
        return QSizeF(shown.size()) if shown is not None else QSizeF(1, 1)

    def comparing(self) -> bool:
        return self.before is not None and (self.after is not None or bool(self.overlays))

    def set_images(self, before: QImage | None, after: QImage | None, *, fit: bool) -> None:
        """Show ``before`` (and ``after`` to compare with); ``fit`` resets zoom and pan."""
        old = self.scene_size()
        self.before, self.after, self.overlays = before, after, []
        new = self.scene_size()
        if fit:
            self.fit()
        elif old != new and old.width() > 0:
            # Keep the same part of the photo in view when the scene changes resolution.
            factor = new.width() / old.width()
            self.origin *= factor
            self._set_zoom(self.zoom / factor)
        self.update()

    def add_overlay(self, image: QImage, rect: QRectF) -> None:
        """Draw ``image`` over ``rect`` (scene coordinates) on the after side: a finished band
        of a running transform, or a preview of the visible region."""
        self.overlays.append((image, rect))
        self.update()

    def clear_overlays(self) -> None:
        self.overlays = []
        self.update()

    def fit(self) -> None:
        size = self.scene_size()
        zoom = min(self.width() / size.width(), self.height() / size.height())
        self._set_zoom(zoom)
        self.origin = QPointF(
            (size.width() - self.width() / zoom) / 2, (size.height() - self.height() / zoom) / 2
        )
        self.viewport_changed.emit()
        self.update()

    def actual_size(self) -> None:
        self.zoom_by(1.0 / self.zoom)

    def zoom_by(self, factor: float) -> None:
        """Zoom about the middle of the view as it is now (it may have been resized)."""
        self.zoom_at(factor, QPointF(self.width() / 2, self.height() / 2))

    def zoom_at(self, factor: float, anchor: QPointF) -> None:
        """Zoom by ``factor`` keeping the scene point under ``anchor`` (view pixels) fixed."""
        fixed = self.to_scene(anchor)
        self._set_zoom(self.zoom * factor)
        self.origin = fixed - anchor / self.zoom
        self.viewport_changed.emit()
        self.update()

    def _set_zoom(self, zoom: float) -> None:
        self.zoom = min(max(zoom, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.zoom_changed.emit(self.zoom)

    def to_scene(self, point: QPointF) -> QPointF:
        return self.origin + point / self.zoom

    def set_slider(self, fraction: float) -> None:
        self.slider = min(max(fraction, 0.0), 1.0)
        self.slider_moved.emit(self.slider)
        self.update()

    def set_mode(self, mode: CompareMode) -> None:
        self.mode = mode
        self.update()

    def toggle_before(self) -> None:
        self.showing_before = not self.showing_before
        self.update()

    def visible_source_rect(self) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the part of the *before* image in view, in its pixels."""
        if self.before is None:
            return None
        width = self.width() / 2 if self.mode == CompareMode.SIDE_BY_SIDE else self.width()
        top_left = self.to_scene(QPointF(0, 0))
        bottom_right = self.to_scene(QPointF(width, self.height()))
        ratio = self.before.width() / self.scene_size().width()
        x0 = max(int(top_left.x() * ratio), 0)
        y0 = max(int(top_left.y() * ratio), 0)
        x1 = min(int(bottom_right.x() * ratio + 1), self.before.width())
        y1 = min(int(bottom_right.y() * ratio + 1), self.before.height())
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1 - x0, y1 - y0

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(140))
        if self.before is None:
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Open a photo (Ctrl+O), drop one here, or paste one (Ctrl+V)",
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 2)
        width, height = self.width(), self.height()
        if not self.comparing():
            self._draw(painter, before=True, clip=QRectF(0, 0, width, height))
        elif self.mode == CompareMode.TOGGLE:
            self._draw(painter, before=self.showing_before, clip=QRectF(0, 0, width, height))
        elif self.mode == CompareMode.SIDE_BY_SIDE:
            half = width / 2
            self._draw(painter, before=True, clip=QRectF(0, 0, half, height))
            self._draw(painter, before=False, clip=QRectF(half, 0, half, height), shift=half)
            painter.setPen(QPen(QColor(255, 255, 255, 160), 1))
            painter.drawLine(QPointF(half, 0), QPointF(half, height))
        else:
            line = self.slider * width
            self._draw(painter, before=True, clip=QRectF(0, 0, line, height))
            self._draw(painter, before=False, clip=QRectF(line, 0, width - line, height))
            self._draw_slider(painter, line)

    def _draw(self, painter: QPainter, *, before: bool, clip: QRectF, shift: float = 0) -> None:
        painter.save()
        painter.setClipRect(clip)
        painter.translate(shift, 0)
        painter.scale(self.zoom, self.zoom)
        painter.translate(-self.origin)
        scene = QRectF(QPointF(0, 0), self.scene_size())
        assert self.before is not None
        if before or self.after is None:
            painter.drawImage(scene, self.before)
        else:
            painter.drawImage(scene, self.after)
        if not before:
            for image, rect in self.overlays:
                painter.drawImage(rect, image)
        painter.restore()

    def _draw_slider(self, painter: QPainter, x: float) -> None:
        painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(QColor(255, 255, 255, 220))
        painter.drawEllipse(QPointF(x, self.height() / 2), 9, 9)
        painter.setPen(QPen(QColor(40, 40, 40), 2))
        middle = self.height() / 2
        painter.drawLine(QPointF(x - 4, middle), QPointF(x - 1, middle))
        painter.drawLine(QPointF(x + 1, middle), QPointF(x + 4, middle))

    def _on_slider(self, x: float) -> bool:
        return (
            self.comparing()
            and self.mode == CompareMode.SLIDER
            and abs(x - self.slider * self.width()) <= SLIDER_GRAB
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.viewport_changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.before is None:
            return
        position = event.position()
        self._drag = ("slider" if self._on_slider(position.x()) else "pan", position)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._drag is None:
            cursor = Qt.CursorShape.SplitHCursor if self._on_slider(position.x()) else None
            if cursor is not None:
                self.setCursor(cursor)
            else:
                self.unsetCursor()
            return
        kind, last = self._drag
        if kind == "slider":
            self.set_slider(position.x() / max(self.width(), 1))
        else:
            self.origin -= (position - last) / self.zoom
            self.update()
        self._drag = (kind, position)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None and self._drag[0] == "pan":
            self.viewport_changed.emit()
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_at(ZOOM_STEP**notches, event.position())
