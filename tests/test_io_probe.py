"""Header probing: sizes read without decoding, and the decompression-bomb guard."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest
from handmade import (
    cmyk_jpeg,
    huge_png,
    icc_profile,
    jpeg_with_segments,
    palette_png_with_transparency,
)

from imagexform.io.images import ImageReadError
from imagexform.io.probe import (
    DEFAULT_MAX_PIXELS,
    ImageHeader,
    ImageTooLargeError,
    check_pixels,
    probe_bytes,
    probe_file,
)


def encode(extension: str, image: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok
    return data.tobytes()


def pixels(height: int, width: int, channels: int, dtype: type = np.uint8) -> np.ndarray:
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(0).integers(0, 200, shape).astype(dtype)


CASES = [
    ("png", ".png", pixels(30, 50, 3), (), 3, 8),
    ("png", ".png", pixels(31, 17, 1, np.uint16), (), 1, 16),
    ("png", ".png", pixels(9, 70, 4), (), 4, 8),
    ("jpeg", ".jpg", pixels(30, 50, 3), (), 3, 8),
    ("jpeg", ".jpg", pixels(33, 21, 1), (), 1, 8),
    ("jpeg", ".jpg", pixels(40, 64, 3), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), 3, 8),
    ("webp", ".webp", pixels(30, 50, 3), (cv2.IMWRITE_WEBP_QUALITY, 80), 3, 8),
    ("webp", ".webp", pixels(30, 51, 3), (cv2.IMWRITE_WEBP_QUALITY, 101), 3, 8),
    ("webp", ".webp", pixels(29, 50, 4), (cv2.IMWRITE_WEBP_QUALITY, 80), 4, 8),
    ("bmp", ".bmp", pixels(30, 50, 3), (), 3, 8),
    ("bmp", ".bmp", pixels(30, 50, 4), (), 4, 8),
    ("tiff", ".tif", pixels(30, 50, 3, np.uint16), (), 3, 16),
    ("tiff", ".tif", pixels(12, 5, 1), (), 1, 8),
]


@pytest.mark.parametrize(
    ("fmt", "extension", "image", "params", "channels", "depth"),
    CASES,
    ids=[f"{c[0]}-{c[2].shape}-{c[2].dtype}-{i}" for i, c in enumerate(CASES)],
)
def test_probe_matches_what_opencv_wrote(tmp_path, fmt, extension, image, params, channels, depth):
    data = encode(extension, image, params)
    path = tmp_path / f"image{extension}"
    path.write_bytes(data)
    expected = ImageHeader(fmt, image.shape[1], image.shape[0], channels, depth)
    assert probe_bytes(data) == expected
    assert probe_file(path) == expected


def test_jpeg_size_is_found_behind_large_metadata_segments(tmp_path):
    """Camera JPEGs put EXIF thumbnails and multi-segment ICC profiles before the frame
    header; the probe must walk past them rather than give up after the first read."""
    icc = icc_profile(60000)
    jpeg = jpeg_with_segments(
        encode(".jpg", pixels(24, 40, 3)),
        (0xE1, b"Exif\x00\x00" + bytes(60000)),
        (0xE2, b"ICC_PROFILE\x00\x01\x01" + icc),
    )
    path = tmp_path / "camera.jpg"
    path.write_bytes(jpeg)
    assert probe_file(path) == ImageHeader("jpeg", 40, 24, 3, 8)


def test_cmyk_jpeg_reports_four_channels():
    assert probe_bytes(cmyk_jpeg(np.zeros((2, 3, 4), np.uint8))) == ImageHeader(
        "jpeg", 24, 16, 4, 8
    )


def test_palette_png_reports_eight_bit_samples():
    data = palette_png_with_transparency(np.zeros((3, 5), np.uint8), [(0, 0, 0, 0)])
    assert probe_bytes(data) == ImageHeader("png", 5, 3, 3, 8)


def tiff_header(byte_order: str, big: bool, width: int, height: int) -> bytes:
    """IFD0 with ImageWidth as SHORT, ImageLength as LONG, BitsPerSample as three SHORTs
    (out of line in a classic TIFF) and SamplesPerPixel."""
    o = byte_order
    marker = b"MM" if o == ">" else b"II"
    if big:
        head = marker + struct.pack(o + "HHHQ", 43, 8, 0, 16)
        entries = [
            struct.pack(o + "HHQ", 256, 3, 1) + struct.pack(o + "H", width).ljust(8, b"\0"),
            struct.pack(o + "HHQ", 257, 4, 1) + struct.pack(o + "I", height).ljust(8, b"\0"),
            # Three SHORTs fit the 8-byte BigTIFF value field, so they are inline here.
            struct.pack(o + "HHQ", 258, 3, 3) + struct.pack(o + "HHH", 16, 16, 16).ljust(8, b"\0"),
            struct.pack(o + "HHQ", 277, 3, 1) + struct.pack(o + "H", 3).ljust(8, b"\0"),
        ]
        ifd = struct.pack(o + "Q", len(entries)) + b"".join(entries) + struct.pack(o + "Q", 0)
    else:
        head = marker + struct.pack(o + "HI", 42, 8)
        entries = [
            struct.pack(o + "HHI", 256, 3, 1) + struct.pack(o + "H", width).ljust(4, b"\0"),
            struct.pack(o + "HHII", 257, 4, 1, height),
            struct.pack(o + "HHII", 258, 3, 3, 200),
            struct.pack(o + "HHI", 277, 3, 1) + struct.pack(o + "H", 3).ljust(4, b"\0"),
        ]
        ifd = struct.pack(o + "H", len(entries)) + b"".join(entries) + struct.pack(o + "I", 0)
    data = (head + ifd).ljust(200, b"\0")
    return data + struct.pack(o + "HHH", 16, 16, 16)


@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True], ids=["classic", "bigtiff"])
def test_tiff_layouts(byte_order, big):
    header = probe_bytes(tiff_header(byte_order, big, 1234, 70000))
    assert header == ImageHeader("tiff", 1234, 70000, 3, 16)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is text",
        b"\x89PNG\r\n\x1a\n",  # signature only
        b"\xff\xd8\xff\xe1\x00\x10Exif",  # ends inside the first segment
        b"RIFF\x10\x00\x00\x00WEBPVP8 ",
        b"II*\x00\xff\xff\xff\x7f",  # IFD offset far past the end
    ],
    ids=["empty", "text", "png-signature", "jpeg-cut", "webp-cut", "tiff-bad-offset"],
)
def test_unknown_or_cut_headers_give_none(data):
    assert probe_bytes(data) is None


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        probe_file(tmp_path / "absent.png")


def test_bomb_is_refused_from_its_header_alone(tmp_path):
    """The header is all it reads: the file cut right after it probes the same. How fast:
    benchmarks/bomb_refusal.py."""
    whole = huge_png(20000, 20000)
    path = tmp_path / "bomb.png"
    path.write_bytes(whole[:33])  # signature (8) + IHDR chunk (25)
    header = probe_file(path)
    assert header == ImageHeader("png", 20000, 20000, 1, 1)
    path.write_bytes(whole)
    assert probe_file(path) == header
    with pytest.raises(ImageTooLargeError) as caught:
        check_pixels(header, DEFAULT_MAX_PIXELS, path)
    message = str(caught.value)
    assert "bomb.png" in message
    assert "20000×20000" in message
    assert "--max-pixels 400000000" in message
    assert "\n" not in message


def test_limit_boundaries_and_zero_disables():
    header = ImageHeader("png", 100, 50, 3, 8)
    check_pixels(header, 5000, "x.png")
    with pytest.raises(ImageTooLargeError):
        check_pixels(header, 4999, "x.png")
    check_pixels(header, 0, "x.png")
    check_pixels(None, 1, "x.png")
