"""Image reading and writing against real files made with OpenCV."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.io.images import (
    ImageReadError,
    ImageWriteError,
    is_image_name,
    list_images,
    read_image,
    to_float,
    to_gray,
    to_rgb,
    write_image_atomic,
)

RED = (255, 0, 0)


def scene(height: int = 48, width: int = 64) -> np.ndarray:
    """An RGB picture with no symmetry, so any flip or rotation changes it."""
    image = np.full((height, width, 3), 40, np.uint8)
    cv2.rectangle(image, (2, 3), (width // 3, height // 4), RED, -1)
    cv2.circle(image, (width * 3 // 4, height * 2 // 3), min(height, width) // 8, (0, 255, 0), -1)
    cv2.line(image, (0, height - 1), (width // 2, height // 2), (0, 0, 255), 2)
    return image


def noisy(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Detail that compresses badly, so a file is large enough to cut in the middle of data."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def encode(extension: str, rgb: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.shape[2] == 3 else rgb
    ok, data = cv2.imencode(extension, bgr, list(params))
    assert ok
    return data.tobytes()


def exif_block(orientation: int, byte_order: str = ">") -> bytes:
    """A minimal TIFF structure: IFD0 with a single Orientation (0x0112, SHORT) entry."""
    marker = b"MM" if byte_order == ">" else b"II"
    return (
        marker
        + struct.pack(byte_order + "HI", 42, 8)
        + struct.pack(byte_order + "H", 1)
        + struct.pack(byte_order + "HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(byte_order + "I", 0)
    )


def jpeg_with_orientation(jpeg: bytes, orientation: int) -> bytes:
    payload = b"Exif\x00\x00" + exif_block(orientation)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


def png_with_orientation(png: bytes, orientation: int) -> bytes:
    payload = exif_block(orientation, "<")
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    header_end = 8 + 8 + 13 + 4  # signature, then the IHDR chunk
    return png[:header_end] + chunk + png[header_end:]


def webp_with_orientation(webp: bytes, width: int, height: int, orientation: int) -> bytes:
    """Turn a simple lossless WebP into the extended (VP8X) form that may carry EXIF."""
    assert webp[12:16] == b"VP8L"
    flags = 0x08 | 0x10  # EXIF present, alpha present
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0])
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    exif = exif_block(orientation, "<")
    exif_chunk = b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\x00" * (len(exif) & 1)
    body = b"WEBP" + vp8x + webp[12:] + exif_chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def test_rgb_png_round_trip_keeps_channel_order(tmp_path: Path) -> None:
    image = scene()
    path = tmp_path / "scene.png"
    write_image_atomic(path, image)

    loaded = read_image(path)
    assert loaded.dtype == np.uint8
    assert loaded.shape == image.shape
    np.testing.assert_array_equal(loaded, image)
    assert tuple(loaded[5, 5]) == RED
    # On disk it must be a normal file that other programs read as red too (BGR in OpenCV).
    assert tuple(cv2.imread(str(path))[5, 5]) == (0, 0, 255)


def test_jpeg_round_trip_stays_red(tmp_path: Path) -> None:
    path = tmp_path / "scene.jpg"
    write_image_atomic(path, scene(), params=[cv2.IMWRITE_JPEG_QUALITY, 95])
    red = read_image(path)[6, 6].astype(int)
    assert red[0] > 220 and red[1] < 40 and red[2] < 40


@pytest.mark.parametrize("extension", [".png", ".tif", ".webp"])
def test_rgba_round_trip_keeps_alpha(tmp_path: Path, extension: str) -> None:
    image = np.dstack([scene(), np.linspace(1, 255, 48 * 64).reshape(48, 64).astype(np.uint8)])
    path = tmp_path / f"alpha{extension}"
    # Lossless WebP; it would zero the colour of fully transparent pixels, hence alpha >= 1.
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if extension == ".webp" else []
    write_image_atomic(path, image, params=params)

    loaded = read_image(path)
    assert loaded.shape == (48, 64, 4)
    np.testing.assert_array_equal(loaded, image)


def test_grayscale_is_height_width_one(tmp_path: Path) -> None:
    gray = cv2.cvtColor(scene(), cv2.COLOR_RGB2GRAY)
    path = tmp_path / "gray.png"
    write_image_atomic(path, gray)

    loaded = read_image(path)
    assert loaded.shape == (48, 64, 1)
    np.testing.assert_array_equal(loaded[:, :, 0], gray)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_sixteen_bit_is_preserved(tmp_path: Path, channels: int, extension: str) -> None:
    ramp = np.linspace(0, 65535, 20 * 30 * channels).astype(np.uint16)
    image = ramp.reshape(20, 30, channels)
    path = tmp_path / f"deep{extension}"
    write_image_atomic(path, image)

    loaded = read_image(path)
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, image)


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path) -> None:
    upright = scene(40, 64)
    # A camera held sideways stores the picture rotated 90° counter-clockwise and tags it
    # Orientation=6, "rotate 90° clockwise to display".
    stored = np.ascontiguousarray(np.rot90(upright, 1))
    full_chroma = (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
    jpeg = encode(".jpg", stored, (cv2.IMWRITE_JPEG_QUALITY, 100, *full_chroma))
    path = tmp_path / "camera.jpg"
    path.write_bytes(jpeg_with_orientation(jpeg, 6))

    loaded = read_image(path)
    assert loaded.shape == (40, 64, 3)
    assert np.abs(loaded.astype(int) - upright.astype(int)).mean() < 1  # 27 if upside down
    assert tuple(int(v) > 200 for v in loaded[6, 6]) == (True, False, False)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_opencv_color_decoding(
    tmp_path: Path, orientation: int
) -> None:
    jpeg = jpeg_with_orientation(encode(".jpg", scene(40, 64)), orientation)
    path = tmp_path / f"o{orientation}.jpg"
    path.write_bytes(jpeg)

    # IMREAD_COLOR applies EXIF orientation (but would lose 16-bit and alpha).
    expected = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    np.testing.assert_array_equal(read_image(path), expected)


def test_png_exif_orientation_keeps_sixteen_bit_alpha(tmp_path: Path) -> None:
    image = np.linspace(0, 65535, 12 * 20 * 4).astype(np.uint16).reshape(12, 20, 4)
    png = png_with_orientation(encode(".png", image), 8)
    path = tmp_path / "deep.png"
    path.write_bytes(png)

    loaded = read_image(path)
    assert loaded.dtype == np.uint16
    # The file stores BGRA; the reader returns RGBA, rotated upright.
    stored_rgba = image[:, :, [2, 1, 0, 3]]
    np.testing.assert_array_equal(loaded, UPRIGHT[8](stored_rgba))


def test_webp_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = np.dstack([scene(20, 30), np.full((20, 30), 200, np.uint8)])
    webp = encode(
        ".webp", cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA), (cv2.IMWRITE_WEBP_QUALITY, 101)
    )
    path = tmp_path / "rotated.webp"
    path.write_bytes(webp_with_orientation(webp, 30, 20, 3))

    np.testing.assert_array_equal(read_image(path), UPRIGHT[3](image))


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(ImageReadError, match=r"empty\.jpg: not a decodable image \(0 bytes\)"):
        read_image(path)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_truncated_file_is_rejected(tmp_path: Path, extension: str) -> None:
    data = encode(extension, noisy(128, 128))
    path = tmp_path / f"cut{extension}"
    path.write_bytes(data[: len(data) * 6 // 10])

    with pytest.raises(ImageReadError, match="truncated or corrupt image data") as caught:
        read_image(path)
    assert str(caught.value).startswith(str(path))
    assert caught.value.path == path


def test_jpeg_with_data_after_the_end_marker_still_reads(tmp_path: Path) -> None:
    # Motion photos append a video after the JPEG; some cameras pad with zeros.
    image = noisy(64, 64)
    path = tmp_path / "motion.jpg"
    path.write_bytes(encode(".jpg", image) + b"\x00" * 64 + b"ftypmp42" + bytes(range(256)))
    assert read_image(path).shape == (64, 64, 3)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not a decodable image"):
        read_image(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"nowhere\.png: file not found"):
        read_image(tmp_path / "nowhere.png")


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "looks.png"
    folder.mkdir()
    with pytest.raises(ImageReadError, match="folder"):
        read_image(folder)


def test_unicode_file_name(tmp_path: Path) -> None:
    path = tmp_path / "ü ñ 日本.png"
    write_image_atomic(path, scene())
    np.testing.assert_array_equal(read_image(path), scene())
    assert list_images(tmp_path) == [path]


def test_undecodable_byte_in_file_name(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.png")
    path = tmp_path / name
    try:
        path.write_bytes(b"")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this filesystem does not accept non-UTF-8 names")
    path.unlink()
    write_image_atomic(path, scene())
    np.testing.assert_array_equal(read_image(path), scene())
    assert list_images(tmp_path) == [path]

    path.write_bytes(b"")
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    message.encode("utf-8")  # printable on a UTF-8 console: no lone surrogates
    assert "caf\\xe9.png: not a decodable image" in message


def test_list_images_skips_non_images_and_hidden_files(tmp_path: Path) -> None:
    for name in ["b.JPG", "a.png", "c.tiff", "Thumbs.db", ".DS_Store", "._a.jpg", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.webp").write_bytes(b"x")
    (tmp_path / ".thumbnails").mkdir()
    (tmp_path / ".thumbnails" / "e.png").write_bytes(b"x")

    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.tiff"]
    recursive = list_images(tmp_path, recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in recursive] == [
        "a.png",
        "b.JPG",
        "c.tiff",
        "sub/d.webp",
    ]


def test_list_images_of_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"absent: folder does not exist"):
        list_images(tmp_path / "absent")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.png", True),
        ("dir/A.JPEG", True),
        ("x.tif", True),
        ("x.bmp", True),
        ("x.webp", True),
        ("Thumbs.db", False),
        (".DS_Store", False),
        ("._photo.jpg", False),
        ("notes.txt", False),
        ("png", False),
    ],
)
def test_is_image_name(name: str, expected: bool) -> None:
    assert is_image_name(name) is expected


def test_atomic_write_leaves_only_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "result.png"
    write_image_atomic(target, scene())
    write_image_atomic(target, scene()[::-1].copy())  # overwrite in place
    assert os.listdir(target.parent) == ["result.png"]
    np.testing.assert_array_equal(read_image(target), scene()[::-1])


def test_failed_encoding_does_not_touch_the_target(tmp_path: Path) -> None:
    target = tmp_path / "result.jpg"
    target.write_bytes(b"previous result")
    deep = np.full((8, 8, 3), 40000, np.uint16)

    with pytest.raises(ImageWriteError, match=r"result\.jpg: JPG stores 8 bits"):
        write_image_atomic(target, deep)
    with pytest.raises(ImageWriteError, match="alpha"):
        write_image_atomic(target, np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ImageWriteError, match="unsupported image extension"):
        write_image_atomic(tmp_path / "result.gif", scene())

    assert target.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["result.jpg"]


def test_failed_rename_removes_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "taken.png"
    target.mkdir()
    (target / "keep").write_bytes(b"")  # a non-empty folder cannot be replaced by a file
    with pytest.raises(ImageWriteError, match=r"taken\.png: cannot write file"):
        write_image_atomic(target, scene())
    assert sorted(os.listdir(tmp_path)) == ["taken.png"]
    assert os.listdir(target) == ["keep"]


def test_to_float_maps_the_full_dtype_range() -> None:
    eight = np.array([[0, 255]], np.uint8)
    sixteen = np.array([[0, 65535]], np.uint16)
    np.testing.assert_array_equal(to_float(eight)[:, :, 0], [[-1.0, 1.0]])
    np.testing.assert_array_equal(to_float(sixteen, (0.0, 1.0))[:, :, 0], [[0.0, 1.0]])
    # The same picture at 8 and 16 bits gives the same floats.
    np.testing.assert_allclose(
        to_float(np.array([[[128]]], np.uint8)),
        to_float(np.array([[[128 * 257]]], np.uint16)),
        rtol=0,
        atol=1e-6,
    )
    assert to_float(eight).dtype == np.float32
    with pytest.raises(TypeError):
        to_float(np.zeros((2, 2, 3), np.float32))


def test_to_rgb_and_to_gray() -> None:
    rgba = np.dstack([scene(), np.zeros((48, 64), np.uint8)])
    np.testing.assert_array_equal(to_rgb(rgba), scene())
    gray = np.arange(12, dtype=np.uint16).reshape(3, 4, 1)
    assert to_rgb(gray).shape == (3, 4, 3)
    np.testing.assert_array_equal(to_rgb(gray)[:, :, 2], gray[:, :, 0])
    assert to_gray(scene()).shape == (48, 64, 1)
    assert to_gray(rgba)[0, 0, 0] == to_gray(scene())[0, 0, 0]


def test_read_error_survives_pickling() -> None:
    # DataLoader workers send exceptions to the main process by pickling them.
    error = pickle.loads(pickle.dumps(ImageReadError(Path("a/b.png"), "file not found")))
    assert isinstance(error, ImageReadError)
    assert str(error) == f"{Path('a/b.png')}: file not found"
    assert error.problem == "file not found"


def test_images_module_does_not_import_torch() -> None:
    code = (
        "import sys, imagexform.io, imagexform.io.images; "
        "print('torch' in sys.modules, 'kornia' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
