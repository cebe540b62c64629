"""Image size from the file header, without decoding the pixels.

A 20000×20000 PNG is a few kilobytes on disk and 1.2 GB once decoded; the only safe moment to
refuse it is before the decoder allocates. Each format keeps its size near the start (JPEG
after its metadata segments), so a few small reads answer. Width and height are as stored,
before any EXIF rotation, which does not change the pixel count.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from imagexform.io import DEFAULT_MAX_PIXELS
from imagexform.io.images import ImageReadError, PathLike

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageHeader",
    "ImageTooLargeError",
    "check_pixels",
    "probe_bytes",
    "probe_file",
]

# JPEG start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_BITS, _TIFF_SAMPLES = 256, 257, 258, 277
_HEAD = 4096  # enough for every header but a JPEG's, whose size follows its APPn segments

Reader = Callable[[int, int], bytes]


@dataclass(frozen=True)
class ImageHeader:
    """What the header says; ``channels`` and ``bit_depth`` are None where finding them
    would take more than a header read (palette transparency, JPEG-in-TIFF...)."""

    format: str
    width: int
    height: int
    channels: int | None = None
    bit_depth: int | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height


class ImageTooLargeError(ImageReadError):
    """An image whose pixel count exceeds the decompression-bomb limit."""


def probe_file(path: PathLike) -> ImageHeader | None:
    """The header of an image file, or None for a format or layout we cannot size cheaply
    (the decoder then has the last word). Unreadable files raise :class:`ImageReadError`."""
    try:
        with open(path, "rb") as handle:

            def read_at(offset: int, size: int) -> bytes:
                handle.seek(offset)
                return handle.read(size)

            return _probe(read_at)
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None


def probe_bytes(data: bytes) -> ImageHeader | None:
    """:func:`probe_file` for a file already in memory."""
    return _probe(lambda offset, size: data[offset : offset + size])


def check_pixels(header: ImageHeader | None, max_pixels: int, source: PathLike) -> None:
    """Refuse an image larger than ``max_pixels`` (0 means no limit) before it is decoded,
    naming the flag that lifts the limit so the user need not look it up."""
    if header is None or max_pixels <= 0 or header.pixels <= max_pixels:
        return
    raise ImageTooLargeError(
        source,
        f"{header.width}×{header.height} is {_megapixels(header.pixels)}, over the "
        f"{_megapixels(max_pixels)} limit that guards against decompression bombs; "
        f"allow it with --max-pixels {header.pixels}",
    )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.4g} megapixels"


def _probe(read_at: Reader) -> ImageHeader | None:
    head = read_at(0, _HEAD)
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(head)
        if head.startswith(b"\xff\xd8\xff"):
            return _jpeg(read_at)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(head)
        if head[:2] == b"BM":
            return _bmp(head)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff(read_at)
    except struct.error:
        return None
    return None


def _png(head: bytes) -> ImageHeader | None:
    if head[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack_from(">IIBB", head, 16)
    if colour == 3:  # palette: ``depth`` is the index size, the samples are 8-bit
        depth = 8
    return ImageHeader("png", width, height, _PNG_CHANNELS.get(colour), depth)


def _jpeg(read_at: Reader) -> ImageHeader | None:
    """Walk the marker segments up to the first start-of-frame; a JPEG's metadata (EXIF
    thumbnails, ICC profiles) comes first and can run to hundreds of kilobytes."""
    pos = 2
    while True:
        prefix = read_at(pos, 2)
        if len(prefix) < 2:
            return None
        if prefix[0] != 0xFF:
            return None
        marker = prefix[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # stand-alone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or a scan before any frame header
            return None
        segment = read_at(pos + 2, 8)
        (length,) = struct.unpack_from(">H", segment)
        if marker in _SOF_MARKERS:
            depth, height, width, components = struct.unpack_from(">BHHB", segment, 2)
            if height == 0:  # height given later by a DNL marker
                return None
            return ImageHeader("jpeg", width, height, components, depth)
        pos += 2 + length


def _webp(head: bytes) -> ImageHeader | None:
    fourcc = head[12:16]
    if fourcc == b"VP8X":
        flags = head[20]
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        return ImageHeader("webp", width, height, 4 if flags & 0x10 else 3, 8)
    if fourcc == b"VP8L":
        if head[20] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", head, 21)
        width = 1 + (bits & 0x3FFF)
        height = 1 + ((bits >> 14) & 0x3FFF)
        return ImageHeader("webp", width, height, 4 if bits >> 28 & 1 else 3, 8)
    if fourcc == b"VP8 ":
        if head[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", head, 26)
        return ImageHeader("webp", width & 0x3FFF, height & 0x3FFF, 3, 8)
    return None


def _bmp(head: bytes) -> ImageHeader | None:
    (dib_size,) = struct.unpack_from("<I", head, 14)
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _, bits = struct.unpack_from("<HHHH", head, 18)
    else:
        width, height, _, bits = struct.unpack_from("<iiHH", head, 18)
    channels = 4 if bits == 32 else (3 if bits > 8 else None)
    # A negative height marks a top-down bitmap.
    return ImageHeader("bmp", abs(width), abs(height), channels, 8)


def _tiff(read_at: Reader) -> ImageHeader | None:
    """IFD0 of a classic or BigTIFF file; values that fit in the entry are stored inline,
    which is always the case for the tags we need except multi-sample BitsPerSample."""
    header = read_at(0, 16)
    order = "<" if header[:2] == b"II" else ">"
    (version,) = struct.unpack_from(order + "H", header, 2)
    if version == 42:
        (ifd,) = struct.unpack_from(order + "I", header, 4)
        count_format, entry_size, entry_format = "H", 12, "HHI"
    else:
        (ifd,) = struct.unpack_from(order + "Q", header, 8)
        count_format, entry_size, entry_format = "Q", 20, "HHQ"
    count_size = struct.calcsize(count_format)
    (count,) = struct.unpack_from(order + count_format, read_at(ifd, count_size))
    entries = read_at(ifd + count_size, entry_size * min(count, 4096))
    value_at = struct.calcsize(order + entry_format)
    inline = entry_size - value_at
    tags: dict[int, int] = {}
    for start in range(0, len(entries) - entry_size + 1, entry_size):
        tag, kind, values = struct.unpack_from(order + entry_format, entries, start)
        if tag not in (_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_BITS, _TIFF_SAMPLES) or values < 1:
            continue
        size = {3: 2, 4: 4}.get(kind)
        if size is None:
            continue
        field = entries[start + value_at : start + entry_size]
        if size * values > inline:  # the field holds an offset to the values
            (where,) = struct.unpack_from(order + ("I" if inline == 4 else "Q"), field)
            field = read_at(where, size)
        (tags[tag],) = struct.unpack_from(order + ("H" if size == 2 else "I"), field)
    if _TIFF_WIDTH not in tags or _TIFF_HEIGHT not in tags:
        return None
    return ImageHeader(
        "tiff",
        tags[_TIFF_WIDTH],
        tags[_TIFF_HEIGHT],
        tags.get(_TIFF_SAMPLES, 1),
        tags.get(_TIFF_BITS),
    )
