"""Read PyTorch and safetensors checkpoints into numpy arrays, without torch (issue 18).

Published weights come as PyTorch pickles, in the zip format of torch >= 1.6 or the legacy
format before it (ESRGAN and junyanz files of 2017-2019), or as ``.safetensors``. Converting them
to ONNX must not need torch, so this module reads all three with the standard library and numpy.

A pickle runs whatever code it names, and nothing in a user's file is ever executed (invariant
4). So the unpickler is an allow-list: the few globals a state dict names (``OrderedDict``,
torch's tensor rebuild functions and storage types) are answered by inert markers defined here,
and any other global is refused as soon as the pickle names it, before anything is called. Only
once the pickle is read are the markers replaced by arrays, read from the storages they name.

Tensors come back as contiguous numpy arrays of the file's dtype; views honour their storage
offset, size and stride. Tensors that shared a storage in the file may share memory, as they
do after ``torch.load``. bfloat16, which numpy lacks, becomes float32 exactly (its 16 bits are
the top half of a float32); float16 stays float16.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from imagexform.errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
SAFETENSORS_MAX_HEADER = 100_000_000
_CHUNK = 1 << 20

_STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "ByteStorage": "uint8",
    "CharStorage": "int8",
    "ShortStorage": "int16",
    "IntStorage": "int32",
    "LongStorage": "int64",
    "BoolStorage": "bool",
}
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


class _Bad(Exception):
    """A problem with the file; :func:`read_checkpoint` prefixes the path."""


def _raw_dtype(name: str, byteorder: str = "<") -> np.dtype:
    """The dtype of a storage's bytes: bfloat16 is read as its 16 raw bits."""
    return np.dtype("u2" if name == "bfloat16" else name).newbyteorder(byteorder)


class _Marker:
    """Stands for a torch object while the pickle is read; no pickle may set its state."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise _Bad("is damaged: its pickle sets the state of a storage or tensor")


class _StorageType(_Marker):
    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


class _StorageRef(_Marker):
    """``numel`` elements of ``dtype`` from ``offset`` in the storage stored under ``key``."""

    __slots__ = ("dtype", "key", "numel", "offset")

    def __init__(self, key: str, dtype: str, offset: int, numel: int) -> None:
        self.key, self.dtype, self.offset, self.numel = key, dtype, offset, numel


class _TensorRef(_Marker):
    __slots__ = ("offset", "size", "storage", "stride")

    def __init__(self, storage: object, offset: object, size: object, stride: object) -> None:
        if not (
            isinstance(storage, _StorageRef)
            and _is_count(offset)
            and isinstance(size, tuple | list)
            and isinstance(stride, tuple | list)
            and len(size) == len(stride)
            and all(_is_count(n) for n in (*size, *stride))
        ):
            raise _Bad("is damaged: a tensor's storage, offset, size or stride is malformed")
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _rebuild_tensor(
    storage: object, offset: object, size: object, stride: object, *_: object
) -> _TensorRef:
    """Torch's ``_rebuild_tensor`` and ``_rebuild_tensor_v2``: requires_grad, hooks and
    metadata say nothing about the values."""
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data: object, *_: object) -> _TensorRef:
    """Torch's ``_rebuild_parameter[_with_state]``: a parameter's values are its data's."""
    if not isinstance(data, _TensorRef):
        raise _Bad("is damaged: a parameter holds no tensor")
    return data


def _allowed_globals() -> dict[tuple[str, str], object]:
    allowed: dict[tuple[str, str], object] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch.storage", "UntypedStorage"): _StorageType("uint8"),
    }
    for module in ("builtins", "__builtin__"):
        allowed.update({(module, "set"): set, (module, "frozenset"): frozenset})
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[("torch", name)] = allowed[("torch.cuda", name)] = _StorageType(dtype)
    return allowed


_ALLOWED = _allowed_globals()
_DAMAGED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)


class _Unpickler(pickle.Unpickler):
    """Answers only allow-listed globals, each with an inert stand-in."""

    def __init__(self, stream: BinaryIO, storage: Callable[[tuple], _StorageRef] | None) -> None:
        super().__init__(stream, encoding="utf-8")
        self._storage = storage

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Bad(
                f"refuses to unpickle {module}.{name}: only tensors and plain containers are "
                "read (nothing in the file is executed)"
            )
        return found

    def persistent_load(self, pid: Any) -> _StorageRef:
        if self._storage is None or not isinstance(pid, tuple) or not pid:
            raise _Bad(f"is damaged: unexpected persistent id {pid!r:.80}")
        if _text(pid[0]) != "storage":
            raise _Bad(
                f"refuses to unpickle a {_text(pid[0])!r:.40} record: only storages are read"
            )
        return self._storage(pid[1:])


def _text(value: object) -> object:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _storage_type(value: object) -> str:
    if not isinstance(value, _StorageType):
        raise _Bad("is damaged: a storage names no storage type")
    return value.dtype


def _zip_storage_ref(fields: tuple) -> _StorageRef:
    """``(storage_type, key, location, numel)`` of the zip format."""
    if len(fields) != 4 or not _is_count(fields[3]):
        raise _Bad("is damaged: a storage record is malformed")
    return _StorageRef(str(_text(fields[1])), _storage_type(fields[0]), 0, fields[3])


def _tensor_array(ref: _TensorRef, storage: np.ndarray, byteorder: str) -> np.ndarray:
    """The tensor's values, copied out of ``storage`` (the whole 1-D storage) only when its
    elements are not already contiguous there."""
    dtype = ref.storage.dtype
    if 0 in ref.size:
        return np.zeros(ref.size, np.float32 if dtype == "bfloat16" else dtype)
    start = ref.storage.offset + ref.offset
    end = start + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True)) + 1
    available = min(ref.storage.offset + ref.storage.numel, storage.size)
    if end > available:
        raise _Bad(
            f"storage {ref.storage.key} holds {available} elements, shorter than its tensor of "
            f"size {list(ref.size)} needs ({end})"
        )
    base = storage[start:end]
    strides = [s * base.itemsize for s in ref.stride]
    view = np.lib.stride_tricks.as_strided(base, ref.size, strides, writeable=False)
    array = (
        base.reshape(ref.size)
        if view.flags.c_contiguous and view.size == base.size
        else np.ascontiguousarray(view)
    )
    return _native(array, dtype, byteorder)


def _native(array: np.ndarray, dtype: str, byteorder: str) -> np.ndarray:
    """Stored bits as the dtype numpy computes with: bfloat16 widened to float32 exactly."""
    if dtype == "bfloat16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array if byteorder == "<" else array.astype(array.dtype.newbyteorder("="))


def _resolve(root: object, tensor: Callable[[_TensorRef], np.ndarray]) -> object:
    """``root`` with every tensor marker replaced by its array, containers kept (dicts and
    lists in place, so an ``OrderedDict``'s order and ``_metadata`` stay)."""
    done: dict[int, object] = {}

    def visit(value: object) -> object:
        key = id(value)
        if key in done:
            return done[key]
        if isinstance(value, _TensorRef):
            done[key] = tensor(value)
        elif isinstance(value, dict | list):
            done[key] = value
            for item, member in list(
                value.items() if isinstance(value, dict) else enumerate(value)
            ):
                value[item] = visit(member)
        elif isinstance(value, tuple):
            return tuple(visit(member) for member in value)
        else:
            return value
        return done[key]

    return visit(root)


def _read_into(stream: BinaryIO, size: int) -> bytearray:
    """``size`` bytes from ``stream`` into one writable buffer, in chunks (no second copy)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    position = 0
    while position < size:
        count = stream.readinto(view[position : position + _CHUNK])
        if not count:
            raise _Bad(f"is truncated: {size - position} bytes of a storage are missing")
        position += count
    return buffer


def _zip_prefix(archive: zipfile.ZipFile) -> str:
    names = archive.namelist()
    prefix = names[0].split("/")[0] + "/" if names and "/" in names[0] else ""
    if not prefix or prefix + "data.pkl" not in names:
        raise _Bad("is a zip archive but not a PyTorch checkpoint (it has no data.pkl)")
    return prefix


def _zip_storage(archive: zipfile.ZipFile, name: str, ref: _StorageRef, order: str) -> np.ndarray:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Bad(f"is damaged: it has no storage {name}") from None
    raw = _raw_dtype(ref.dtype, order)
    needed = ref.numel * raw.itemsize
    if info.file_size < needed:
        raise _Bad(
            f"storage {name} holds {info.file_size} bytes, shorter than the {needed} its "
            "tensors need"
        )
    try:
        with archive.open(info) as stream:
            return np.frombuffer(_read_into(stream, needed), raw)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise _Bad(f"is a damaged or truncated zip archive ({error})") from None


def _read_zip(path: Path) -> object:
    """PyTorch's zip format: ``<folder>/data.pkl`` names storages kept in ``<folder>/data/``."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise _Bad(f"is a damaged or truncated zip archive ({error})") from None
    with archive:
        prefix = _zip_prefix(archive)
        order = "<"
        if prefix + "byteorder" in archive.namelist():
            order = ">" if archive.read(prefix + "byteorder").strip() == b"big" else "<"
        pickled = io.BytesIO(archive.read(prefix + "data.pkl"))
        root = _Unpickler(pickled, _zip_storage_ref).load()
        storages: dict[tuple[str, str], np.ndarray] = {}

        def tensor(ref: _TensorRef) -> np.ndarray:
            key = (ref.storage.key, ref.storage.dtype)
            if key not in storages:
                name = f"{prefix}data/{ref.storage.key}"
                storages[key] = _zip_storage(archive, name, ref.storage, order)
            return _tensor_array(ref, storages[key], order)

        return _resolve(root, tensor)


def _legacy_storage_ref(roots: dict[str, tuple[str, int]]) -> Callable[[tuple], _StorageRef]:
    """``(storage_type, root_key, location, numel, view_metadata)`` of the legacy format;
    ``view_metadata`` is ``(view_key, offset, size)`` in elements, or None."""

    def storage(fields: tuple) -> _StorageRef:
        if len(fields) != 5 or not _is_count(fields[3]):
            raise _Bad("is damaged: a storage record is malformed")
        dtype, key, view = _storage_type(fields[0]), str(_text(fields[1])), fields[4]
        if roots.setdefault(key, (dtype, fields[3])) != (dtype, fields[3]):
            raise _Bad(f"is damaged: storage {key} is recorded with two types or sizes")
        if view is None:
            return _StorageRef(key, dtype, 0, fields[3])
        if not (isinstance(view, tuple) and len(view) == 3 and all(map(_is_count, view[1:]))):
            raise _Bad("is damaged: a storage view is malformed")
        return _StorageRef(key, dtype, view[1], view[2])

    return storage


def _legacy_storages(stream: BinaryIO, roots: dict[str, tuple[str, int]], size: int) -> dict:
    """After the main pickle: the pickled list of storage keys, then for each storage its
    element count (int64, little-endian) and its bytes (little-endian), which must lie within
    the file's ``size`` before any memory is set aside for them."""
    keys = _Unpickler(stream, None).load()
    if not isinstance(keys, list) or set(map(str, keys)) != set(roots):
        raise _Bad("is damaged: its list of storages does not match its tensors")
    storages = {}
    for key in map(str, keys):
        dtype, numel = roots[key]
        head = stream.read(8)
        if len(head) < 8:
            raise _Bad(f"is truncated: storage {key} is missing")
        (count,) = struct.unpack("<q", head)
        if count != numel:
            raise _Bad(f"is damaged: storage {key} holds {count} elements, its record {numel}")
        raw = _raw_dtype(dtype)
        if stream.tell() + numel * raw.itemsize > size:
            raise _Bad(f"is truncated: storage {key} ends past the end of the file")
        storages[key] = np.frombuffer(_read_into(stream, numel * raw.itemsize), raw)
    return storages


def _read_legacy(path: Path) -> object:
    """The format of ``torch.save`` before 1.6: magic number, protocol and system pickles,
    the object's pickle, then the storages' bytes."""
    with path.open("rb") as stream:
        if _Unpickler(stream, None).load() != LEGACY_MAGIC:
            raise _Bad("is not a PyTorch checkpoint: wrong magic number")
        protocol = _Unpickler(stream, None).load()
        if protocol != LEGACY_PROTOCOL:
            raise _Bad(f"is a PyTorch checkpoint of unknown legacy protocol {protocol!r:.20}")
        _Unpickler(stream, None).load()
        roots: dict[str, tuple[str, int]] = {}
        root = _Unpickler(stream, _legacy_storage_ref(roots)).load()
        storages = _legacy_storages(stream, roots, path.stat().st_size)
    return _resolve(root, lambda ref: _tensor_array(ref, storages[ref.storage.key], "<"))


def _safetensors_entry(name: str, entry: object, data_size: int) -> tuple[str, list, int]:
    """``(dtype, shape, begin)`` of one header entry, checked against the data."""
    if not isinstance(entry, dict):
        raise _Bad(f"safetensors header entry {name} is not an object")
    dtype = _SAFETENSORS_DTYPES.get(entry.get("dtype"))  # type: ignore[arg-type]
    if dtype is None:
        known = ", ".join(_SAFETENSORS_DTYPES)
        raise _Bad(f"tensor {name} has dtype {entry.get('dtype')!r:.20}, not one of {known}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(map(_is_count, shape))):
        raise _Bad(f"tensor {name} has a malformed shape {shape!r:.40}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise _Bad(f"tensor {name} has malformed data_offsets {offsets!r:.40}")
    begin, end = offsets
    if not begin <= end <= data_size:
        raise _Bad(f"tensor {name}: data_offsets {offsets} fall outside the {data_size} data bytes")
    needed = math.prod(shape) * _raw_dtype(dtype).itemsize
    if end - begin != needed:
        raise _Bad(
            f"tensor {name}: data_offsets span {end - begin} bytes, its shape needs {needed}"
        )
    return dtype, shape, begin


def _safetensors_header(stream: BinaryIO, file_size: int) -> dict:
    head = stream.read(8)
    (length,) = struct.unpack("<Q", head) if len(head) == 8 else (file_size,)
    if length > min(file_size - 8, SAFETENSORS_MAX_HEADER):
        raise _Bad(f"safetensors header length {length} is out of range ({file_size}-byte file)")
    try:
        header = json.loads(stream.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Bad(f"safetensors header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _Bad("safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    return header


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """8-byte little-endian header length, a JSON header, then every tensor's bytes."""
    file_size = path.stat().st_size
    with path.open("rb") as stream:
        header = _safetensors_header(stream, file_size)
        data_size = file_size - stream.tell()
        entries = {name: _safetensors_entry(name, e, data_size) for name, e in header.items()}
        data = _read_into(stream, data_size)
    arrays = {}
    for name, (dtype, shape, begin) in entries.items():
        raw = _raw_dtype(dtype)
        count = math.prod(shape)
        stored = np.frombuffer(data, raw, count, begin) if count else np.zeros(0, raw)
        arrays[name] = _native(stored.reshape(shape), dtype, "<")
    return arrays


def _read_any(path: Path) -> object:
    with path.open("rb") as stream:
        head = stream.read(512)
    if head.startswith(b"PK"):
        return _read_zip(path)
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return _read_safetensors(path)
    if head[257:262] == b"ustar":
        raise _Bad(
            "is a PyTorch checkpoint in the tar format of the earliest torch releases, which "
            "is not read: load it with torch and save it again"
        )
    if head[:1] == b"\x80":
        return _read_legacy(path)
    raise _Bad("is neither a PyTorch checkpoint (zip or legacy) nor a .safetensors file")


def read_checkpoint(path: Path) -> Any:
    """The object stored in ``path`` (a PyTorch zip or legacy checkpoint, or safetensors),
    with every tensor as a numpy array; nothing in the file is executed."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        return _read_any(path)
    except _Bad as error:
        raise UserError(f"{path}: {error}") from None
    except _DAMAGED as error:
        raise UserError(f"{path}: is damaged or truncated ({error})") from None
