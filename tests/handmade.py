"""Image files built byte by byte, for what OpenCV cannot write: CMYK JPEGs, palette PNGs
with transparency, PNG headers of absurd size, EXIF blocks and ICC profiles."""

from __future__ import annotations

import struct
import zlib

import numpy as np

# --- PNG ------------------------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_file(
    width: int,
    height: int,
    colour_type: int,
    bit_depth: int,
    rows: bytes,
    extra: tuple[bytes, ...] = (),
) -> bytes:
    """A PNG whose ``rows`` are the raw scanlines, each already prefixed by its filter byte."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def palette_png_with_transparency(
    indices: np.ndarray, palette: list[tuple[int, int, int, int]]
) -> bytes:
    """An 8-bit palette PNG (colour type 3) whose tRNS chunk gives each entry an alpha."""
    height, width = indices.shape
    rows = b"".join(b"\x00" + indices[y].astype(np.uint8).tobytes() for y in range(height))
    plte = bytes(v for r, g, b, _ in palette for v in (r, g, b))
    trns = bytes(a for *_, a in palette)
    return png_file(width, height, 3, 8, rows, (png_chunk(b"PLTE", plte), png_chunk(b"tRNS", trns)))


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of any size: blank rows compress to almost nothing."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


# --- CMYK JPEG ------------------------------------------------------------------------------

_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)  # the standard luminance DC table
_DC_VALUES = tuple(range(12))


def _canonical_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    symbols = iter(values)
    for length, count in enumerate(bits, 1):
        for _ in range(count):
            codes[next(symbols)] = (code, length)
            code += 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def write(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)  # byte stuffing
                self.acc = self.count = 0

    def flush(self) -> bytes:
        while self.count:
            self.write(1, 1)
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def cmyk_jpeg(ink: np.ndarray) -> bytes:
    """A baseline CMYK JPEG in which each 8×8 block is flat: ``ink`` is (block rows, block
    columns, 4) of C, M, Y, K amounts (255 = full ink). Stored inverted with an Adobe APP14
    marker, as Photoshop writes them. Only DC coefficients are coded (quantiser 1), so the
    decoded samples are exact."""
    rows, cols, _ = ink.shape
    stored = 255 - ink.astype(int)
    dc_codes = _canonical_codes(_DC_BITS, _DC_VALUES)
    writer = _BitWriter()
    previous = [0, 0, 0, 0]
    for row in range(rows):
        for col in range(cols):
            for component in range(4):
                dc = 8 * (int(stored[row, col, component]) - 128)
                diff = dc - previous[component]
                previous[component] = dc
                category = abs(diff).bit_length()
                code, length = dc_codes[category]
                writer.write(code, length)
                if category:
                    writer.write(diff if diff > 0 else diff + (1 << category) - 1, category)
                writer.write(0, 1)  # end of block: the only AC symbol, code "0"
    components = b"".join(bytes((i, 0x11, 0)) for i in range(1, 5))
    return (
        b"\xff\xd8"
        + _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
        + _segment(0xDB, b"\x00" + b"\x01" * 64)
        + _segment(0xC0, struct.pack(">BHHB", 8, rows * 8, cols * 8, 4) + components)
        + _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES))
        + _segment(0xC4, b"\x10" + bytes((1,) + (0,) * 15) + b"\x00")
        + _segment(0xDA, b"\x04" + b"".join(bytes((i, 0)) for i in range(1, 5)) + b"\x00\x3f\x00")
        + writer.flush()
        + b"\xff\xd9"
    )


# --- metadata blocks ------------------------------------------------------------------------


def exif_block(
    orientation: int = 6,
    byte_order: str = ">",
    pixel_size: tuple[int, int] = (640, 480),
    make: bytes = b"Canon",
) -> bytes:
    """A TIFF-structured EXIF block: IFD0 (Make, Orientation, Exif IFD pointer), an Exif IFD
    with PixelXDimension (LONG) and PixelYDimension (SHORT), and an IFD1 (thumbnail)."""
    o = byte_order
    make_data = make + b"\x00"
    ifd0, exif_ifd, ifd1, data = 8, 50, 80, 98

    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack(o + "HHI", tag, kind, count) + value.ljust(4, b"\x00")

    block = (b"MM" if o == ">" else b"II") + struct.pack(o + "HI", 42, ifd0)
    block += struct.pack(o + "H", 3)
    block += entry(0x010F, 2, len(make_data), struct.pack(o + "I", data))
    block += entry(0x0112, 3, 1, struct.pack(o + "H", orientation))
    block += entry(0x8769, 4, 1, struct.pack(o + "I", exif_ifd))
    block += struct.pack(o + "I", ifd1)
    assert len(block) == exif_ifd
    block += struct.pack(o + "H", 2)
    block += entry(0xA002, 4, 1, struct.pack(o + "I", pixel_size[0]))
    block += entry(0xA003, 3, 1, struct.pack(o + "H", pixel_size[1]))
    block += struct.pack(o + "I", 0)
    assert len(block) == ifd1
    block += struct.pack(o + "H", 1) + entry(0x0103, 3, 1, struct.pack(o + "H", 6))
    block += struct.pack(o + "I", 0)
    assert len(block) == data
    return block + make_data


def icc_profile(size: int = 3000, space: bytes = b"RGB ", seed: int = 0) -> bytes:
    """Bytes with a valid ICC header and an empty tag table (enough for libpng's checks);
    the body is random so that a profile cut, reordered or shifted is detected."""
    body = np.random.default_rng(seed).integers(0, 256, size - 132, dtype=np.uint8).tobytes()
    header = bytearray(128)
    struct.pack_into(">I", header, 0, size)
    struct.pack_into(">I", header, 8, 0x02100000)
    header[12:16] = b"mntr"
    header[16:20] = space
    header[20:24] = b"XYZ "
    header[36:40] = b"acsp"
    return bytes(header) + struct.pack(">I", 0) + body


def jpeg_with_segments(jpeg: bytes, *segments: tuple[int, bytes]) -> bytes:
    """``jpeg`` with marker segments ``(marker, payload)`` inserted right after SOI."""
    return jpeg[:2] + b"".join(_segment(m, p) for m, p in segments) + jpeg[2:]
