"""Reading and writing image files, torch-free.

OpenCV does the pixel work. This module adds what OpenCV leaves to its caller: RGB channel
order, EXIF orientation together with 16-bit samples and alpha (``IMREAD_UNCHANGED`` keeps
those but ignores orientation), detection of truncated files that OpenCV would half-decode
without complaint, one-line errors that name the file, and writes that are never visible
half-done.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

import cv2
import numpy as np

from imagexform.errors import UserError

PathLike: TypeAlias = str | os.PathLike[str]

# Lower-case suffixes, dot included, so they compare directly with ``Path.suffix.lower()``.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

# OpenCV silently saturates 16-bit data to 8 bits for these, and drops alpha for JPEG.
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
_NO_ALPHA = (".jpg", ".jpeg")

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.tmp", re.DOTALL)


def display_path(path: PathLike) -> str:
    """The path as printable text: undecodable bytes in a file name appear as ``\\xNN``
    instead of lone surrogates that would crash ``print`` on a UTF-8 console."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class ImageReadError(UserError):
    """An image file that cannot be used; carries the file and the problem separately so a
    dataset can report skipped files without re-parsing the message."""

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{display_path(path)}: {problem}")

    def __reduce__(self) -> tuple[type[ImageReadError], tuple[Path, str]]:
        return type(self), (self.path, self.problem)


class ImageWriteError(UserError):
    """An image that cannot be written where asked (format limits, disk, permissions)."""

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{display_path(path)}: {problem}")

    def __reduce__(self) -> tuple[type[ImageWriteError], tuple[Path, str]]:
        return type(self), (self.path, self.problem)


def is_image_name(path: PathLike) -> bool:
    """Whether a file name looks like an image we read. Hidden files are excluded because
    macOS leaves ``._name.jpg`` resource forks beside real images, and those do not decode."""
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS


def list_images(
    folder: PathLike, recursive: bool = False, accept: Callable[[str], bool] = is_image_name
) -> list[Path]:
    """Image files in ``folder`` (files whose name ``accept`` takes), sorted so that runs and
    reports are reproducible.

    Hidden sub-folders (``.git``, ``.thumbnails``) are not descended into, and symlinked
    folders are not followed, so a link loop cannot hang the scan.
    """
    root = Path(folder)
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "folder does not exist"
        raise UserError(f"{display_path(root)}: {problem}")
    found: list[Path] = []
    try:
        _scan(root, recursive, found, accept)
    except OSError as exc:
        where = exc.filename if exc.filename is not None else root
        raise UserError(f"{display_path(where)}: cannot list folder ({exc.strerror})") from exc
    return sorted(found)


def _scan(
    folder: PathLike, recursive: bool, found: list[Path], accept: Callable[[str], bool]
) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                if accept(entry.name):
                    found.append(Path(entry.path))
            elif recursive and entry.is_dir(follow_symlinks=False):
                _scan(entry.path, recursive, found, accept)


def read_image(path: PathLike) -> np.ndarray:
    """Decode an image file to H×W×C RGB(A), uint8 or uint16, upright per its EXIF tag.

    The bytes are read by Python rather than ``cv2.imread`` because OpenCV cannot open
    non-ASCII paths on Windows; having the bytes also lets us check for truncation and parse
    the orientation tag, which ``IMREAD_UNCHANGED`` would ignore.
    """
    return decode_image(read_file_bytes(path), path)


def read_file_bytes(path: PathLike) -> bytes:
    """The raw bytes of a file, with OS errors as one-line :class:`ImageReadError`s, for
    callers that inspect the container (header probe, metadata) before decoding it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None


def decode_image(data: bytes, source: PathLike = "<memory>") -> np.ndarray:
    """:func:`read_image` for bytes already in memory (drag and drop, clipboard, archives);
    ``source`` only names the image in error messages."""
    if not data:
        raise ImageReadError(source, "not a decodable image (0 bytes)")
    orientation, problem = _inspect_container(data)
    if problem is not None:
        raise ImageReadError(source, f"truncated or corrupt image data ({problem})")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None:
        raise ImageReadError(source, f"not a decodable image ({_describe_content(data)})")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(
            source, f"unsupported sample type {image.dtype} (8- and 16-bit images are supported)"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return _apply_orientation(image, orientation)


def _describe_content(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return "corrupt JPEG data"
    if data.startswith(_PNG_MAGIC):
        return "corrupt PNG data"
    return f"{len(data)} bytes in no supported image format"


def _inspect_container(data: bytes) -> tuple[int, str | None]:
    """The EXIF orientation (1 when absent) and, for a truncated file, what is missing."""
    try:
        if data.startswith(_JPEG_MAGIC):
            return _inspect_jpeg(data)
        if data.startswith(_PNG_MAGIC):
            return _inspect_png(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _inspect_webp(data)
    except struct.error:
        return 1, "the file ends inside a header"
    return 1, None


def _inspect_jpeg(data: bytes) -> tuple[int, str | None]:
    orientation = 1
    size = len(data)
    pos = 2
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            # libjpeg skips stray bytes between segments with a warning; so do we.
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:  # ends before any image data: OpenCV will reject it
            return orientation, None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and orientation == 1 and segment.startswith(_EXIF_HEADER):
            orientation = _tiff_orientation(segment[len(_EXIF_HEADER) :])
        pos += 2 + length
        if marker == 0xDA:
            if _jpeg_has_end(data, pos):
                return orientation, None
            break
    return orientation, "JPEG has no end-of-image marker"


def _jpeg_has_end(data: bytes, pos: int) -> bool:
    """Whether an end-of-image marker follows the first scan starting at ``pos``.

    Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so the
    first real EOI can be found without decoding. The common case, a file ending in EOI,
    short-cuts the scan; trailing data (motion photos, padding) takes the long way.
    """
    if data.endswith(b"\xff\xd9"):
        return True
    size = len(data)
    while True:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= size:
            return False
        marker = data[i + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF:
            pos = i + 1
        elif marker == 0x00 or 0xD0 <= marker <= 0xD7:
            pos = i + 2
        else:
            (length,) = struct.unpack_from(">H", data, i + 2)
            pos = i + 2 + length


def _inspect_png(data: bytes) -> tuple[int, str | None]:
    orientation = 1
    size = len(data)
    pos = len(_PNG_MAGIC)
    while pos + 12 <= size:
        length, chunk_type = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            break
        if chunk_type == b"eXIf":
            orientation = _tiff_orientation(data[pos + 8 : pos + 8 + length])
        elif chunk_type == b"IEND":
            return orientation, None
        pos = end
    return orientation, "PNG ends before its IEND chunk"


def _inspect_webp(data: bytes) -> tuple[int, str | None]:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if len(data) < end:
        return 1, "WebP file is shorter than its header says"
    orientation = 1
    pos = 12
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        if fourcc == b"EXIF":
            payload = data[pos + 8 : pos + 8 + length]
            orientation = _tiff_orientation(payload.removeprefix(_EXIF_HEADER))
        pos += 8 + length + (length & 1)
    return orientation, None


def _tiff_orientation(tiff: bytes) -> int:
    """The Orientation tag of IFD0 in an EXIF (TIFF-structured) block; 1 when unreadable,
    because a broken tag is no reason to reject pixels that decode fine."""
    byte_order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if byte_order is None or len(tiff) < 8:
        return 1
    try:
        (ifd,) = struct.unpack_from(byte_order + "I", tiff, 4)
        (count,) = struct.unpack_from(byte_order + "H", tiff, ifd)
        for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
            tag, kind, _ = struct.unpack_from(byte_order + "HHI", tiff, entry)
            if tag == _ORIENTATION_TAG and kind == 3:  # SHORT
                (value,) = struct.unpack_from(byte_order + "H", tiff, entry + 8)
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 1:
        return image
    oriented = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }[orientation](image)
    return np.ascontiguousarray(oriented)


def to_float(image: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map the dtype's full range onto ``value_range`` as float32 H×W×C.

    Scaling by the dtype (not by the image's own maximum) keeps a dark photo dark, and makes
    8- and 16-bit versions of the same picture produce the same tensor.
    """
    if image.dtype == np.uint8:
        full = 255.0
    elif image.dtype == np.uint16:
        full = 65535.0
    else:
        raise TypeError(f"to_float expects uint8 or uint16 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    low, high = value_range
    out = image.astype(np.float32)
    # Dividing first keeps both ends of the range exact in float32.
    out /= np.float32(full)
    out *= np.float32(high - low)
    out += np.float32(low)
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    """8-bit samples: 16-bit values rounded to the nearest of 256 levels (65535 = 255 × 257);
    8-bit images unchanged."""
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return image


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Three channels whatever the file held. Alpha is dropped, not composited, which is what
    the reference pix2pix does (PIL ``convert("RGB")``), so imported models see the same data."""
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels == 3:
        return image
    if channels == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if channels in (1, 2):
        return np.repeat(image[:, :, :1], 3, axis=2)
    raise ValueError(f"cannot convert a {channels}-channel image to RGB")


def to_gray(image: np.ndarray) -> np.ndarray:
    """One luminance channel (H×W×1), for models trained on single-channel data."""
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels in (1, 2):
        return np.ascontiguousarray(image[:, :, :1])
    if channels in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)[:, :, None]
    raise ValueError(f"cannot convert a {channels}-channel image to gray")


def write_image_atomic(path: PathLike, image: np.ndarray, params: Sequence[int] = ()) -> None:
    """Encode ``image`` (RGB/RGBA/gray, uint8 or uint16) in the format its extension names
    and write it with :func:`write_bytes_atomic`. ``params`` go to ``cv2.imencode`` (e.g.
    ``[cv2.IMWRITE_JPEG_QUALITY, 95]``)."""
    target = Path(path)
    write_bytes_atomic(target, encode_image(target, image, params))


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` so that the file appears only once complete.

    Data goes to a hidden temp file beside the target (same filesystem, so the rename is
    atomic) and is then renamed over it, so an interrupted batch never leaves a half image
    that a rerun would skip as done. A process killed mid-write leaves only the hidden temp
    file, which :func:`is_temp_name` recognises.
    """
    target = Path(path)
    token = secrets.token_hex(4)
    temp = target.with_name(f".{target.name[:40]}.{token}{TEMP_SUFFIX}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise ImageWriteError(target, f"cannot write file ({exc.strerror or exc})") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`write_bytes_atomic`'s temp files, so a rerun can
    clear what a killed run left behind without touching anything else."""
    return _TEMP_NAME.fullmatch(name) is not None


def encode_image(path: PathLike, image: np.ndarray, params: Sequence[int] = ()) -> bytes:
    """The encoded file bytes; ``path`` only picks the format (by extension) and names the
    file in errors. Refuses what the format would silently damage (16-bit in an 8-bit
    format, alpha in JPEG) rather than writing something other than was asked."""
    return _encode(Path(path), image, params)


def _encode(target: Path, image: np.ndarray, params: Sequence[int]) -> bytes:
    extension = target.suffix.lower()
    if extension not in IMAGE_EXTENSIONS:
        raise ImageWriteError(
            target,
            f"unsupported image extension '{target.suffix}' (use {', '.join(IMAGE_EXTENSIONS)})",
        )
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"encoding expects uint8 or uint16 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"encoding expects H×W×1, ×3 or ×4, got shape {image.shape}")
    format_name = extension.lstrip(".").upper()
    if image.dtype == np.uint16 and extension in _EIGHT_BIT_ONLY:
        raise ImageWriteError(
            target,
            f"{format_name} stores 8 bits per channel; convert the 16-bit image or write .png/.tif",
        )
    if image.shape[2] == 4 and extension in _NO_ALPHA:
        raise ImageWriteError(
            target, f"{format_name} cannot store alpha; drop it or write .png/.webp/.tif"
        )
    image = np.ascontiguousarray(image)
    if image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    try:
        ok, encoded = cv2.imencode(extension, image, list(params))
    except cv2.error as exc:
        detail = " ".join(str(exc).split())
        raise ImageWriteError(target, f"OpenCV could not encode the image ({detail})") from exc
    if not ok:
        raise ImageWriteError(target, "OpenCV could not encode the image")
    return encoded.tobytes()
