"""EXIF and ICC carried between containers, checked with our extractor and with OpenCV."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from handmade import exif_block, icc_profile, jpeg_with_segments, png_chunk, png_file

from imagexform.io.images import decode_image
from imagexform.io.metadata import (
    ImageMetadata,
    extract_metadata,
    insert_metadata,
    prepare_exif,
    profile_fits,
)


def encode(extension: str, image: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok
    return data.tobytes()


def picture(height: int = 40, width: int = 60, channels: int = 3) -> np.ndarray:
    image = np.zeros((height, width, channels), np.uint8)
    image[..., 0] = np.arange(width, dtype=np.uint8)[None, :] * 4
    image[..., 1] = np.arange(height, dtype=np.uint8)[:, None] * 6
    image[: height // 2, : width // 3, 2] = 250
    if channels == 4:
        image[..., 3] = 128
    return image


def opencv(data: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return decoded


def tag_value(exif: bytes, ifd_offset: int, wanted: int) -> int | None:
    order = "<" if exif[:2] == b"II" else ">"
    (count,) = struct.unpack_from(order + "H", exif, ifd_offset)
    for entry in range(ifd_offset + 2, ifd_offset + 2 + 12 * count, 12):
        tag, kind = struct.unpack_from(order + "HH", exif, entry)
        if tag == wanted:
            return struct.unpack_from(order + ("H" if kind == 3 else "I"), exif, entry + 8)[0]
    return None


def next_ifd(exif: bytes) -> int:
    order = "<" if exif[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(order + "I", exif, 4)
    (count,) = struct.unpack_from(order + "H", exif, ifd0)
    return struct.unpack_from(order + "I", exif, ifd0 + 2 + 12 * count)[0]


OUTPUTS = [
    (".jpg", 3, ()),
    (".png", 3, ()),
    (".png", 4, ()),
    (".webp", 3, (cv2.IMWRITE_WEBP_QUALITY, 80)),
    (".webp", 3, (cv2.IMWRITE_WEBP_QUALITY, 101)),
    (".webp", 4, (cv2.IMWRITE_WEBP_QUALITY, 101)),
    (".webp", 4, (cv2.IMWRITE_WEBP_QUALITY, 80)),
]


@pytest.mark.parametrize(
    ("extension", "channels", "params"),
    OUTPUTS,
    ids=[f"{e}-{c}ch-{p[1] if p else 'default'}" for e, c, p in OUTPUTS],
)
@pytest.mark.parametrize("icc_size", [3000, 150_000], ids=["small-icc", "multi-chunk-icc"])
def test_round_trip_keeps_blocks_and_pixels(extension, channels, params, icc_size):
    encoded = encode(extension, picture(channels=channels), params)
    metadata = ImageMetadata(exif=exif_block(1), icc=icc_profile(icc_size))
    written = insert_metadata(encoded, metadata)
    assert extract_metadata(written) == metadata
    assert np.array_equal(opencv(written), opencv(encoded))


def test_webp_becomes_an_extended_file_with_the_right_canvas_and_flags():
    encoded = encode(".webp", picture(37, 53, 4), (cv2.IMWRITE_WEBP_QUALITY, 101))
    assert encoded[12:16] == b"VP8L"
    written = insert_metadata(encoded, ImageMetadata(exif=exif_block(1), icc=icc_profile()))
    assert written[12:16] == b"VP8X"
    flags = written[20]
    assert flags & 0x20 and flags & 0x08 and flags & 0x10  # ICC, EXIF, alpha
    assert int.from_bytes(written[24:27], "little") + 1 == 53
    assert int.from_bytes(written[27:30], "little") + 1 == 37
    (riff_size,) = struct.unpack_from("<I", written, 4)
    assert riff_size + 8 == len(written)


def test_jpeg_metadata_follows_jfif_and_replaces_any_existing_blocks():
    written = insert_metadata(encode(".jpg", picture()), ImageMetadata(exif=exif_block(1)))
    assert written[2:4] == b"\xff\xe0" and written[6:11] == b"JFIF\x00"  # APP0 stays first
    assert written[4 + struct.unpack_from(">H", written, 4)[0] :][:2] == b"\xff\xe1"
    stale = jpeg_with_segments(
        encode(".jpg", picture()),
        (0xE1, b"Exif\x00\x00" + exif_block(3)),
        (0xE2, b"ICC_PROFILE\x00\x01\x01" + icc_profile(seed=1)),
    )
    icc = icc_profile(seed=2)
    written = insert_metadata(stale, ImageMetadata(exif=exif_block(1), icc=icc))
    assert written.count(b"Exif\x00\x00") == 1
    assert written.count(b"ICC_PROFILE\x00") == 1
    assert extract_metadata(written) == ImageMetadata(exif=exif_block(1), icc=icc)
    assert np.array_equal(opencv(written), opencv(stale))


def test_jpeg_drops_an_exif_block_too_big_for_one_segment_but_keeps_the_icc():
    huge = exif_block(1) + bytes(70_000)
    icc = icc_profile()
    written = insert_metadata(encode(".jpg", picture()), ImageMetadata(exif=huge, icc=icc))
    assert extract_metadata(written) == ImageMetadata(icc=icc)
    opencv(written)


def test_png_icc_replaces_srgb_chunk():
    rows = b"".join(b"\x00" + bytes(9) for _ in range(3))
    png = png_file(3, 3, 2, 8, rows, (png_chunk(b"sRGB", b"\x00"),))
    icc = icc_profile()
    written = insert_metadata(png, ImageMetadata(icc=icc))
    assert b"sRGB" not in written
    assert written.index(b"iCCP") < written.index(b"IDAT")
    assert extract_metadata(written).icc == icc
    assert opencv(written).shape == (3, 3, 3)


def test_extract_from_camera_style_jpeg_with_split_icc():
    icc = icc_profile(100_000)
    first, second = icc[:60_000], icc[60_000:]
    jpeg = jpeg_with_segments(
        encode(".jpg", picture()),
        (0xE1, b"Exif\x00\x00" + exif_block(6, "<")),
        (0xE2, b"ICC_PROFILE\x00\x02\x02" + second),  # chunks may come in any order
        (0xE2, b"ICC_PROFILE\x00\x01\x02" + first),
    )
    assert extract_metadata(jpeg) == ImageMetadata(exif=exif_block(6, "<"), icc=icc)


def test_incomplete_icc_chunks_are_not_glued_into_a_broken_profile():
    jpeg = jpeg_with_segments(
        encode(".jpg", picture()), (0xE2, b"ICC_PROFILE\x00\x01\x02" + icc_profile()[:500])
    )
    assert extract_metadata(jpeg).icc is None


def test_extract_from_png_and_webp_containers():
    icc = icc_profile()
    rows = b"".join(b"\x00" + bytes(6) for _ in range(2))
    png = png_file(
        2,
        2,
        2,
        8,
        rows,
        (
            png_chunk(b"iCCP", b"name\x00\x00" + zlib.compress(icc)),
            png_chunk(b"eXIf", exif_block(8)),
        ),
    )
    assert extract_metadata(png) == ImageMetadata(exif=exif_block(8), icc=icc)
    # Some writers keep the JPEG-style "Exif\0\0" prefix inside WebP's EXIF chunk.
    webp = insert_metadata(encode(".webp", picture()), ImageMetadata(icc=icc))
    webp_with_prefix = insert_metadata(webp, ImageMetadata(exif=b"Exif\x00\x00" + exif_block(8)))
    assert extract_metadata(webp_with_prefix).exif == exif_block(8)


def test_tiff_gives_its_icc_profile():
    icc = icc_profile(500)
    o = "<"
    entries = struct.pack(o + "HHII", 0x8773, 7, len(icc), 26)
    tiff = b"II" + struct.pack(o + "HI", 42, 8) + struct.pack(o + "H", 1) + entries
    tiff += struct.pack(o + "I", 0) + icc
    assert extract_metadata(tiff) == ImageMetadata(icc=icc)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff\xe1\xff\xff Exif",
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iCCP", b"no-terminator"),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"iCCP", b"x\x00\x00not zlib"),
        b"RIFF\xff\xff\xff\xffWEBPEXIF",
    ],
    ids=["empty", "jpeg-cut", "iccp-no-name-end", "iccp-bad-zlib", "webp-cut"],
)
def test_damaged_containers_give_no_metadata_instead_of_failing(data):
    assert extract_metadata(data) == ImageMetadata()


@pytest.mark.parametrize("byte_order", [">", "<"])
def test_prepare_exif_makes_the_block_describe_the_output(byte_order):
    exif = exif_block(6, byte_order, pixel_size=(640, 480), make=b"Nikon")
    prepared = prepare_exif(exif, width=1280, height=960)
    assert prepared is not None
    order = "<" if byte_order == "<" else ">"
    assert tag_value(prepared, 8, 0x0112) == 1
    assert tag_value(prepared, 50, 0xA002) == 1280
    assert tag_value(prepared, 50, 0xA003) == 960
    assert next_ifd(prepared) == 0  # the thumbnail showed the untransformed picture
    assert b"Nikon\x00" in prepared
    assert len(prepared) == len(exif)
    assert struct.unpack_from(order + "H", prepared, 2)[0] == 42


def test_prepare_exif_leaves_a_short_size_tag_it_cannot_hold():
    prepared = prepare_exif(exif_block(1, pixel_size=(640, 480)), width=100_000, height=70_000)
    assert prepared is not None
    assert tag_value(prepared, 50, 0xA002) == 100_000  # LONG
    assert tag_value(prepared, 50, 0xA003) == 480  # SHORT cannot hold 70000


@pytest.mark.parametrize(
    "exif",
    [b"", b"XX\x00\x2a\x00\x00\x00\x08", exif_block(6)[:40]],
    ids=["empty", "bad-order", "cut"],
)
def test_prepare_exif_refuses_blocks_it_cannot_parse(exif):
    assert prepare_exif(exif, 10, 10) is None


def test_upright_exif_makes_reading_the_output_keep_its_pixels():
    """An output written with the input's orientation tag would be rotated a second time."""
    image = picture(20, 50)
    rotated_tag = insert_metadata(encode(".png", image), ImageMetadata(exif=exif_block(6)))
    assert decode_image(rotated_tag).shape[:2] == (50, 20)
    upright = insert_metadata(
        encode(".png", image), ImageMetadata(exif=prepare_exif(exif_block(6), 50, 20))
    )
    assert decode_image(upright).shape[:2] == (20, 50)


def test_profile_fits_by_colour_space():
    assert profile_fits(icc_profile(space=b"RGB "), 3)
    assert profile_fits(icc_profile(space=b"RGB "), 4)
    assert not profile_fits(icc_profile(space=b"RGB "), 1)
    assert profile_fits(icc_profile(space=b"GRAY"), 1)
    assert not profile_fits(icc_profile(space=b"CMYK"), 3)


def test_nothing_to_insert_returns_the_same_bytes():
    encoded = encode(".png", picture())
    assert insert_metadata(encoded, ImageMetadata()) is encoded
    tiff = encode(".tif", picture())
    assert insert_metadata(tiff, ImageMetadata(exif=exif_block(1))) == tiff
