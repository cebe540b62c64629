"""EXIF and ICC profiles carried from an input file to its transformed output, without Pillow.

OpenCV neither returns nor writes metadata, yet dropping it loses the capture date, camera and
GPS data users expect to keep, and dropping the ICC profile shifts colours of wide-gamut
photos. So the blocks are lifted from the input container as bytes and spliced into the
encoder's output container:

- JPEG: EXIF in APP1, ICC in APP2 ``ICC_PROFILE`` chunks (split at 64 KB). An EXIF block too
  big for one segment (65 527 bytes) is dropped rather than cut.
- PNG: ``eXIf`` and zlib-compressed ``iCCP`` chunks placed right after ``IHDR``.
- WebP: the simple container is converted to the extended one (``VP8X``) with ``ICCP`` and
  ``EXIF`` chunks.
- TIFF input gives its ICC profile; TIFF and BMP outputs carry no metadata (splicing into a
  TIFF means relocating its IFDs, which the encoder's files do not need badly enough).

XMP is not carried: it may repeat the orientation and the original size, and rewriting XML
reliably is out of scope. The pixels are upright after :func:`~imagexform.io.images.read_image`,
so :func:`prepare_exif` sets the Orientation tag to 1, records the output size, and unlinks the
embedded thumbnail, which would still show the untransformed picture.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

EXIF_HEADER = b"Exif\x00\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_SEGMENT_MAX = 0xFFFF - 2  # payload bytes after the two length bytes
_ICC_CHUNK = _JPEG_SEGMENT_MAX - len(ICC_HEADER) - 2
_ICC_MAX = 16 * 1024 * 1024  # refuse to inflate an iCCP chunk beyond any real profile

_ORIENTATION = 0x0112
_IMAGE_WIDTH, _IMAGE_LENGTH = 0x0100, 0x0101
_EXIF_IFD = 0x8769
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003
_TIFF_ICC = 0x8773

_VP8X_ICC, _VP8X_ALPHA, _VP8X_EXIF = 0x20, 0x10, 0x08


@dataclass(frozen=True)
class ImageMetadata:
    """``exif`` is the TIFF-structured EXIF block (no ``Exif\\0\\0`` prefix); ``icc`` the
    raw ICC profile."""

    exif: bytes | None = None
    icc: bytes | None = None

    def __bool__(self) -> bool:
        return bool(self.exif or self.icc)


def extract_metadata(data: bytes) -> ImageMetadata:
    """The EXIF and ICC blocks of an encoded image; empty for formats without them or for
    blocks too damaged to parse, since metadata is never a reason to fail an image."""
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg_metadata(data)
        if data.startswith(_PNG_MAGIC):
            return _png_metadata(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_metadata(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return ImageMetadata(icc=_tiff_icc(data))
    except (struct.error, zlib.error, ValueError):
        return ImageMetadata()
    return ImageMetadata()


def insert_metadata(encoded: bytes, metadata: ImageMetadata) -> bytes:
    """``encoded`` with the metadata spliced in where its format allows; other formats (TIFF,
    BMP) come back unchanged."""
    if not metadata:
        return encoded
    if encoded.startswith(b"\xff\xd8\xff"):
        return _jpeg_insert(encoded, metadata)
    if encoded.startswith(_PNG_MAGIC):
        return _png_insert(encoded, metadata)
    if encoded[:4] == b"RIFF" and encoded[8:12] == b"WEBP":
        return _webp_insert(encoded, metadata)
    return encoded


def profile_fits(icc: bytes, channels: int) -> bool:
    """Whether an ICC profile describes images with ``channels`` colour channels (alpha
    aside). A CMYK JPEG's profile must not follow its pixels once they are RGB, and decoders
    reject an RGB profile on a grey PNG."""
    space = icc[16:20]
    if channels in (1, 2):
        return space == b"GRAY"
    if channels in (3, 4):
        return space == b"RGB "
    return False


def prepare_exif(exif: bytes, width: int, height: int) -> bytes | None:
    """The EXIF block to write beside pixels that are already upright and ``width``×``height``.

    Orientation becomes 1, the size tags (IFD0 and Exif IFD) get the output size, and IFD1 (the
    thumbnail) is unlinked. Returns None when the block cannot be parsed: a damaged EXIF could
    hold an orientation another reader interprets, rotating the output a second time.
    """
    block = bytearray(exif)
    order = {b"II": "<", b"MM": ">"}.get(bytes(block[:2]))
    if order is None or len(block) < 8:
        return None
    try:
        (ifd0,) = struct.unpack_from(order + "I", block, 4)
        exif_ifd = None
        for entry, tag, kind in _ifd_entries(block, order, ifd0):
            if tag == _ORIENTATION and kind == 3:
                struct.pack_into(order + "H", block, entry + 8, 1)
            elif tag in (_IMAGE_WIDTH, _IMAGE_LENGTH):
                _set_size(block, order, entry, kind, width if tag == _IMAGE_WIDTH else height)
            elif tag == _EXIF_IFD and kind in (4, 13):
                (exif_ifd,) = struct.unpack_from(order + "I", block, entry + 8)
        (count,) = struct.unpack_from(order + "H", block, ifd0)
        struct.pack_into(order + "I", block, ifd0 + 2 + 12 * count, 0)
        if exif_ifd is not None:
            for entry, tag, kind in _ifd_entries(block, order, exif_ifd):
                if tag in (_PIXEL_X, _PIXEL_Y):
                    _set_size(block, order, entry, kind, width if tag == _PIXEL_X else height)
    except struct.error:
        return None
    return bytes(block)


def _ifd_entries(block: bytearray, order: str, ifd: int) -> list[tuple[int, int, int]]:
    """(entry offset, tag, type) of each entry in the IFD at ``ifd``."""
    (count,) = struct.unpack_from(order + "H", block, ifd)
    if ifd + 2 + 12 * count + 4 > len(block):
        raise struct.error("IFD runs past the end of the EXIF block")
    entries = []
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind = struct.unpack_from(order + "HH", block, entry)
        entries.append((entry, tag, kind))
    return entries


def _set_size(block: bytearray, order: str, entry: int, kind: int, value: int) -> None:
    """Rewrite a one-value SHORT or LONG size tag in place; a SHORT that cannot hold the
    new size is left as it was rather than moved."""
    if kind == 3 and value <= 0xFFFF:
        struct.pack_into(order + "H", block, entry + 8, value)
    elif kind == 4:
        struct.pack_into(order + "I", block, entry + 8, value)


# --- JPEG -----------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """(marker, start, end) of each marker segment before the first scan, and where the
    remainder (scan header onwards) begins."""
    segments = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segments.append((marker, pos, pos + 2 + length))
        pos += 2 + length
    return segments, pos


def _jpeg_metadata(data: bytes) -> ImageMetadata:
    exif = None
    icc_chunks: dict[int, bytes] = {}
    icc_count = 0
    segments, _ = _jpeg_segments(data)
    for marker, start, end in segments:
        payload = data[start + 4 : end]
        if marker == 0xE1 and exif is None and payload.startswith(EXIF_HEADER):
            exif = payload[len(EXIF_HEADER) :]
        elif marker == 0xE2 and payload.startswith(ICC_HEADER) and len(payload) >= 14:
            sequence, icc_count = payload[12], payload[13]
            icc_chunks[sequence] = payload[14:]
    icc = None
    if icc_count and sorted(icc_chunks) == list(range(1, icc_count + 1)):
        icc = b"".join(icc_chunks[n] for n in range(1, icc_count + 1))
    return ImageMetadata(exif=exif or None, icc=icc or None)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_insert(encoded: bytes, metadata: ImageMetadata) -> bytes:
    segments, rest = _jpeg_segments(encoded)
    # JFIF requires its APP0 first; EXIF readers find APP1 wherever it is among the headers.
    lead = 2
    while segments and segments[0][0] == 0xE0:
        lead = segments.pop(0)[2]
    added = []
    if metadata.exif and len(EXIF_HEADER) + len(metadata.exif) <= _JPEG_SEGMENT_MAX:
        added.append(_segment(0xE1, EXIF_HEADER + metadata.exif))
    if metadata.icc:
        chunks = [metadata.icc[i : i + _ICC_CHUNK] for i in range(0, len(metadata.icc), _ICC_CHUNK)]
        if len(chunks) <= 255:
            for sequence, chunk in enumerate(chunks, 1):
                header = ICC_HEADER + bytes((sequence, len(chunks)))
                added.append(_segment(0xE2, header + chunk))
    kept = [
        encoded[start:end]
        for marker, start, end in segments
        if not _is_metadata_segment(marker, encoded[start + 4 : start + 16])
    ]
    return encoded[:lead] + b"".join(added) + b"".join(kept) + encoded[rest:]


def _is_metadata_segment(marker: int, payload_start: bytes) -> bool:
    return (marker == 0xE1 and payload_start.startswith(EXIF_HEADER)) or (
        marker == 0xE2 and payload_start.startswith(ICC_HEADER)
    )


# --- PNG ------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks = []
    pos = len(_PNG_MAGIC)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _png_metadata(data: bytes) -> ImageMetadata:
    exif = icc = None
    for kind, payload in _png_chunks(data):
        if kind == b"eXIf" and exif is None:
            exif = payload.removeprefix(EXIF_HEADER)
        elif kind == b"iCCP" and icc is None:
            name_end = payload.index(b"\x00")
            inflater = zlib.decompressobj()
            icc = inflater.decompress(payload[name_end + 2 :], _ICC_MAX)
        elif kind == b"IDAT":
            break  # both must precede the image data
    return ImageMetadata(exif=exif or None, icc=icc or None)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_insert(encoded: bytes, metadata: ImageMetadata) -> bytes:
    chunks = _png_chunks(encoded)
    added = []
    dropped = set()
    if metadata.icc:
        added.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc)))
        dropped |= {b"iCCP", b"sRGB"}  # the PNG spec allows one colour space statement
    if metadata.exif:
        added.append(_png_chunk(b"eXIf", metadata.exif))
        dropped.add(b"eXIf")
    out = [_PNG_MAGIC]
    for kind, payload in chunks:
        if kind in dropped:
            continue
        out.append(_png_chunk(kind, payload))
        if kind == b"IHDR":
            out.extend(added)
    return b"".join(out)


# --- WebP -----------------------------------------------------------------------------------


def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(len(data), 8 + riff_size)
    chunks = []
    pos = 12
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        chunks.append((fourcc, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return chunks


def _webp_metadata(data: bytes) -> ImageMetadata:
    exif = icc = None
    for fourcc, payload in _webp_chunks(data):
        if fourcc == b"EXIF" and exif is None:
            exif = payload.removeprefix(EXIF_HEADER)
        elif fourcc == b"ICCP" and icc is None:
            icc = payload
    return ImageMetadata(exif=exif or None, icc=icc or None)


def _webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _webp_insert(encoded: bytes, metadata: ImageMetadata) -> bytes:
    """Rebuild the file as an extended WebP: VP8X, ICCP, the image chunks, EXIF (the order
    the container specification requires)."""
    chunks = [c for c in _webp_chunks(encoded) if c[0] not in (b"ICCP", b"EXIF")]
    if chunks and chunks[0][0] == b"VP8X":
        flags, canvas = chunks[0][1][0], chunks[0][1][4:10]
        chunks = chunks[1:]
    else:
        flags, canvas = _simple_webp_canvas(chunks)
    flags &= ~(_VP8X_ICC | _VP8X_EXIF)
    if metadata.icc:
        flags |= _VP8X_ICC
    if metadata.exif:
        flags |= _VP8X_EXIF
    body = [_webp_chunk(b"VP8X", bytes((flags, 0, 0, 0)) + canvas)]
    if metadata.icc:
        body.append(_webp_chunk(b"ICCP", metadata.icc))
    body.extend(_webp_chunk(fourcc, payload) for fourcc, payload in chunks)
    if metadata.exif:
        body.append(_webp_chunk(b"EXIF", metadata.exif))
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def _simple_webp_canvas(chunks: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """VP8X flags and the 24-bit (width-1, height-1) canvas of a simple-format WebP."""
    fourcc, payload = chunks[0]
    if fourcc == b"VP8L":
        (bits,) = struct.unpack_from("<I", payload, 1)
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        flags = _VP8X_ALPHA if bits >> 28 & 1 else 0
    elif fourcc == b"VP8 ":
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", payload, 6))
        flags = 0
    else:
        raise ValueError(f"unexpected WebP chunk {fourcc!r}")
    return flags, (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")


# --- TIFF -----------------------------------------------------------------------------------


def _tiff_icc(data: bytes) -> bytes | None:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind, size, offset = struct.unpack_from(order + "HHII", data, entry)
        if tag == _TIFF_ICC and kind in (1, 7) and size > 4:
            return data[offset : offset + size] or None
    return None
