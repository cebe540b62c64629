"""One transform request's work, in a worker thread: the upload's bytes in, the encoded
result out, through the same steps ``imagexform batch`` takes from a file to a file (header
check, decode, model, format conversion, encoding with EXIF/ICC), so both give the same bytes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.batch.formats import conform, encode_output
from imagexform.io.images import ImageReadError, decode_image
from imagexform.io.metadata import ImageMetadata, extract_metadata
from imagexform.io.probe import ImageHeader, check_pixels, probe_bytes

if TYPE_CHECKING:
    from imagexform.runtime import RuntimeModel
    from imagexform.serve.config import ServeConfig
    from imagexform.serve.params import TransformOrder

# The extension an output in the upload's own format gets, by the format the header names.
SAME_FORMAT = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif"}
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
}


class Cancelled(Exception):
    """The client went away; raised between two tiles, so the work stops within one."""


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str = "upload"  # names the image in error messages, never a path on disk


@dataclass(frozen=True)
class Result:
    data: bytes
    extension: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.extension]


def check_header(upload: Upload, max_pixels: int) -> ImageHeader:
    """The upload's header, refused before any decoding when it is empty, in a format whose
    size cannot be read from its header (the decoder would be the first to know), or larger
    than ``max_pixels``."""
    if not upload.data:
        raise ImageReadError(upload.filename, "empty upload (0 bytes)")
    header = probe_bytes(upload.data)
    if header is None:
        raise ImageReadError(
            upload.filename,
            f"not a PNG, JPEG, WebP, BMP or TIFF image ({len(upload.data)} bytes)",
        )
    check_pixels(header, max_pixels, upload.filename)
    return header


def run_transform(
    model: RuntimeModel,
    upload: Upload,
    order: TransformOrder,
    config: ServeConfig,
    cancel: threading.Event,
) -> Result:
    """Transform ``upload`` as ``order`` says; raises :class:`Cancelled` soon after ``cancel``
    is set, at the latest when the tile in progress is done."""

    def stop_if_cancelled(done: int = 0, total: int = 0) -> None:
        if cancel.is_set():
            raise Cancelled

    stop_if_cancelled()  # the client may have gone while the request waited for a worker
    header = check_header(upload, config.max_pixels)
    image = decode_image(upload.data, upload.filename)
    metadata = extract_metadata(upload.data) if order.keep_metadata else ImageMetadata()
    output = model.transform(
        image,
        order.conditions or None,
        tile_size=config.tile_size,
        overlap=config.overlap,
        adjustments=order.adjustments,
        progress=stop_if_cancelled,
    )
    extension = order.extension or SAME_FORMAT[header.format]
    output = conform(output, extension)
    target = Path(Path(upload.filename).stem + extension)
    return Result(encode_output(target, output, metadata, order.quality), extension)
