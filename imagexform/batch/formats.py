"""Fitting a transformed image to the output format it is written in.

The runtime returns the input's kind (16-bit stays 16-bit, alpha stays alpha); an output
format may hold less. Rather than fail every RGBA or 16-bit file of a mixed folder written
with ``--format jpg``, the image is converted the way an image editor's export would:

- 16-bit to an 8-bit-only format (JPEG, WebP, BMP): rounded to 8 bits.
- Alpha to JPEG: composited on white, the usual page colour, so the transparent areas of
  logos and cut-outs look as they did in a browser instead of showing whatever colour is
  stored under them (often black).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imagexform.batch.plan import DEFAULT_QUALITY
from imagexform.io.images import encode_image, to_uint8
from imagexform.io.metadata import ImageMetadata, insert_metadata, prepare_exif, profile_fits

__all__ = ["DEFAULT_QUALITY", "conform", "encode_output", "encode_params"]

EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
NO_ALPHA = (".jpg", ".jpeg")


def conform(image: np.ndarray, extension: str) -> np.ndarray:
    """``image`` (H×W×C, uint8/uint16) in a form ``extension``'s format stores as is."""
    extension = extension.lower()
    if image.ndim == 2:
        image = image[:, :, None]
    if extension in NO_ALPHA and image.shape[2] in (2, 4):
        image = _on_white(image)
    if extension in EIGHT_BIT_ONLY and image.dtype == np.uint16:
        image = to_uint8(image)
    return image


def encode_params(extension: str, quality: int) -> list[int]:
    """``cv2.imencode`` parameters; ``quality`` (1–100) applies to JPEG and WebP only."""
    import cv2

    extension = extension.lower()
    if extension in (".jpg", ".jpeg"):
        return [cv2.IMWRITE_JPEG_QUALITY, quality]
    if extension == ".webp":
        return [cv2.IMWRITE_WEBP_QUALITY, quality]
    return []


def encode_output(
    target: Path, image: np.ndarray, metadata: ImageMetadata, quality: int = DEFAULT_QUALITY
) -> bytes:
    """The bytes of ``image`` (already :func:`conform`-ed) in ``target``'s format, carrying
    what of the source's ``metadata`` still describes it: the batch command and the editor's
    Save write the same file for the same result."""
    data = encode_image(target, image, encode_params(target.suffix, quality))
    return insert_metadata(data, _metadata_for(metadata, image))


def _metadata_for(metadata: ImageMetadata, image: np.ndarray) -> ImageMetadata:
    """What of the input's metadata still describes ``image``."""
    if not metadata:
        return metadata
    height, width = image.shape[:2]
    exif = prepare_exif(metadata.exif, width, height) if metadata.exif else None
    channels = image.shape[2] if image.ndim == 3 else 1
    icc = metadata.icc if metadata.icc and profile_fits(metadata.icc, channels) else None
    return ImageMetadata(exif=exif, icc=icc)


def _on_white(image: np.ndarray) -> np.ndarray:
    full = 65535.0 if image.dtype == np.uint16 else 255.0
    colour = image[:, :, :-1].astype(np.float32)
    alpha = image[:, :, -1:].astype(np.float32) / full
    blended = colour * alpha + full * (1.0 - alpha)
    return np.rint(blended).astype(image.dtype)
