"""Between numpy images (as :func:`imagexform.io.images.read_image` returns them) and Qt's.

The editor keeps the full-precision array as the document and shows an 8-bit copy: Qt paints
8-bit images fastest, and the screen shows no more than that.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from imagexform.io.images import to_uint8


def to_qimage(image: np.ndarray) -> QImage:
    """An 8-bit QImage that owns a copy of ``image``'s pixels (gray, RGB, or with alpha)."""
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels == 2:
        pixels = np.concatenate([np.repeat(pixels[:, :, :1], 3, axis=2), pixels[:, :, 1:]], 2)
    formats = {
        1: QImage.Format.Format_Grayscale8,
        2: QImage.Format.Format_RGBA8888,
        3: QImage.Format.Format_RGB888,
        4: QImage.Format.Format_RGBA8888,
    }
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    view = QImage(pixels.data, width, height, pixels.strides[0], formats[channels])
    return view.copy()


def from_qimage(image: QImage) -> np.ndarray:
    """RGB or RGBA uint8 pixels of any QImage (a pasted clipboard image)."""
    alpha = image.hasAlphaChannel()
    fmt = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888
    converted = image.convertToFormat(fmt)
    channels = 4 if alpha else 3
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), np.uint8, converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : width * channels].reshape(height, width, channels).copy()
