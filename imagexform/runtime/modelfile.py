"""What an ONNX file says about itself (metadata, graph inputs and outputs), read without
loading its weights, torch or the ``onnx`` package.

Every part of imagexform that describes a model before running it (``models info``, the model
list, the editor's model panel, ``load_model`` itself) reads the file through here. ONNX
Runtime can only answer after building a session, which loads and optimises every weight
(seconds and gigabytes for a large model, just to show its title); the ``onnx`` package parses
the whole protobuf, weights included, and is a training dependency. An ONNX file is one
protobuf ``ModelProto`` whose wire format prefixes every nested message and byte string with
its length, so the few hundred bytes wanted are read and everything else (the nodes, the
weights in ``raw_data``) is skipped with a seek, never read. A file whose weights live in
external data files is described without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from imagexform.errors import UserError
from imagexform.io.images import display_path
from imagexform.modelinfo import METADATA_KEY, ModelInfo

Dimension = int | str | None  # fixed size, named dynamic size, or unnamed dynamic size

# TensorProto.DataType numbers, spelled as onnxruntime spells them.
_ELEMENT_TYPES = [
    "undefined",
    "float",
    "uint8",
    "int8",
    "uint16",
    "int16",
    "int32",
    "int64",
    "string",
    "bool",
    "float16",
    "double",
    "uint32",
    "uint64",
    "complex64",
    "complex128",
    "bfloat16",
    "float8e4m3fn",
    "float8e4m3fnuz",
    "float8e5m2",
    "float8e5m2fnuz",
    "uint4",
    "int4",
    "float4e2m1",
]
_DTYPES = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
}
# Protobuf wire types, and the field numbers read from onnx.proto3.
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MODEL_IR_VERSION, _MODEL_PRODUCER, _MODEL_GRAPH, _MODEL_METADATA = 1, 2, 7, 14
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_SPARSE_INITIALIZER = 5, 11, 12, 15
_TENSOR_NAME = 8
_BUFFER = 4096  # small: after each skipped weight only this much is read ahead


@dataclass(frozen=True)
class TensorDescription:
    """A graph input or output: dimensions are ints, or names (or None) where dynamic."""

    name: str
    shape: tuple[Dimension, ...]
    element_type: str  # as onnxruntime spells it, e.g. "tensor(float)"

    @property
    def dtype(self) -> np.dtype | None:
        """The numpy type to feed or read, None for types imagexform does not handle."""
        return _DTYPES.get(self.element_type)


@dataclass
class ModelFile:
    """An ONNX file's self-description; ``info`` is None for files imagexform did not write,
    whose raw metadata may still say where they came from. ``inputs`` leaves out initializers,
    as onnxruntime's session inputs do."""

    path: Path
    size_bytes: int
    producer: str
    inputs: list[TensorDescription]
    outputs: list[TensorDescription]
    metadata: dict[str, str]
    info: ModelInfo | None


def inspect_model(path: Path | str) -> ModelFile:
    """Read ``path``'s metadata and signature; a one-line :class:`UserError` naming the file
    when it is missing or not an ONNX model."""
    path = Path(path)
    name = display_path(path)
    if not path.is_file():
        raise UserError(f"{name}: {'is a folder' if path.is_dir() else 'file not found'}")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{name}: not an ONNX model (the file is empty)")
    with open(path, "rb", buffering=_BUFFER) as handle:
        header = _Header(_Wire(handle, name, size))
    if not header.ir_version or not header.has_graph:
        raise UserError(f"{name}: not an ONNX model (no graph in the file)")
    initializers = header.initializers
    raw = header.metadata.get(METADATA_KEY)
    return ModelFile(
        path=path,
        size_bytes=size,
        producer=header.producer,
        inputs=[tensor for tensor in header.inputs if tensor.name not in initializers],
        outputs=header.outputs,
        metadata=header.metadata,
        info=None if raw is None else ModelInfo.from_json(raw, source=name),
    )


def read_model_info(path: Path | str) -> ModelInfo:
    """The :class:`ModelInfo` of a file imagexform exported; a :class:`UserError` naming the
    file when it is not ONNX or carries no imagexform metadata."""
    model = inspect_model(path)
    if model.info is None:
        raise UserError(
            f"{display_path(model.path)}: has no imagexform metadata (no {METADATA_KEY!r} entry "
            "in metadata_props); it was not exported by imagexform"
        )
    return model.info


class _Wire:
    """Protobuf's wire format over a seekable file: the fields of one message, each one's
    payload skipped unless the caller reads it while the iteration is paused on it."""

    def __init__(self, handle: BinaryIO, name: str, size: int) -> None:
        self.handle = handle
        self.name = name
        self.size = size

    def fields(self, end: int) -> Iterator[tuple[int, int, int]]:
        """``(field number, wire type, value)`` up to byte ``end``; the value is the number
        itself for a varint, else the payload's length, with the file at its first byte."""
        while self.handle.tell() < end:
            key = self.varint(end)
            number, wire = key >> 3, key & 7
            if wire == _VARINT:
                yield number, wire, self.varint(end)
                continue
            length = {_FIXED64: 8, _FIXED32: 4}.get(wire)
            if wire == _LENGTH:
                length = self.varint(end)
            if length is None or number == 0:
                raise self.corrupt(f"unexpected field {number} of wire type {wire}")
            start = self.handle.tell()
            if start + length > end:
                raise self.corrupt("truncated")
            yield number, wire, length
            self.handle.seek(start + length)

    def message(self, length: int) -> Iterator[tuple[int, int, int]]:
        """The fields of the nested message the iteration is paused on."""
        return self.fields(self.handle.tell() + length)

    def varint(self, end: int) -> int:
        value = shift = 0
        while True:
            byte = self.handle.read(1)
            if not byte or self.handle.tell() > end or shift > 63:
                raise self.corrupt("truncated" if not byte else "a number runs past its field")
            value |= (byte[0] & 0x7F) << shift
            shift += 7
            if byte[0] < 0x80:
                return value

    def text(self, length: int) -> str:
        try:
            return self.handle.read(length).decode("utf-8")
        except UnicodeDecodeError:
            raise self.corrupt("a name is not UTF-8 text") from None

    def corrupt(self, problem: str) -> UserError:
        where = self.handle.tell()
        return UserError(f"{self.name}: not an ONNX model ({problem} at byte {where})")


class _Header:
    """The parts of a ``ModelProto`` imagexform uses, read in one pass."""

    def __init__(self, wire: _Wire) -> None:
        self.wire = wire
        self.ir_version = 0
        self.producer = ""
        self.has_graph = False
        self.metadata: dict[str, str] = {}
        self.inputs: list[TensorDescription] = []
        self.outputs: list[TensorDescription] = []
        self.initializers: set[str] = set()
        for number, wire_type, value in wire.fields(wire.size):
            if number == _MODEL_IR_VERSION and wire_type == _VARINT:
                self.ir_version = value
            elif wire_type != _LENGTH:
                continue
            elif number == _MODEL_PRODUCER:
                self.producer = wire.text(value)
            elif number == _MODEL_GRAPH:
                self.has_graph = True
                self._graph(value)
            elif number == _MODEL_METADATA:
                entry = self._strings(value, (1, 2))  # StringStringEntryProto key, value
                self.metadata[entry.get(1, "")] = entry.get(2, "")

    def _graph(self, length: int) -> None:
        for number, wire_type, value in self.wire.message(length):
            if wire_type != _LENGTH:
                continue
            if number == _GRAPH_INPUT:
                self.inputs.append(self._value_info(value))
            elif number == _GRAPH_OUTPUT:
                self.outputs.append(self._value_info(value))
            elif number == _GRAPH_INITIALIZER:
                self._initializer(value)
            elif number == _GRAPH_SPARSE_INITIALIZER:
                self._sparse_initializer(value)

    def _sparse_initializer(self, length: int) -> None:
        for number, wire_type, value in self.wire.message(length):
            if number == 1 and wire_type == _LENGTH:  # SparseTensorProto.values
                self._initializer(value)

    def _initializer(self, length: int) -> None:
        self.initializers.add(self._strings(length, (_TENSOR_NAME,)).get(_TENSOR_NAME, ""))

    def _strings(self, length: int, wanted: tuple[int, ...]) -> dict[int, str]:
        """The ``wanted`` string fields of a message (a key/value entry, a tensor's name);
        every other field, a tensor's weights included, is skipped."""
        found = {}
        for number, wire_type, value in self.wire.message(length):
            if wire_type == _LENGTH and number in wanted:
                found[number] = self.wire.text(value)
        return found

    def _value_info(self, length: int) -> TensorDescription:
        name, shape, element_type = "", (), "non-tensor"
        for number, wire_type, value in self.wire.message(length):
            if number == 1 and wire_type == _LENGTH:
                name = self.wire.text(value)
            elif number == 2 and wire_type == _LENGTH:
                shape, element_type = self._type(value)
        return TensorDescription(name, shape, element_type)

    def _type(self, length: int) -> tuple[tuple[Dimension, ...], str]:
        shape: tuple[Dimension, ...] = ()
        element_type = "non-tensor"
        for number, wire_type, value in self.wire.message(length):
            if number != 1 or wire_type != _LENGTH:  # TypeProto.tensor_type
                continue
            for field, kind, inner in self.wire.message(value):
                if field == 1 and kind == _VARINT:
                    known = inner < len(_ELEMENT_TYPES)
                    element_type = f"tensor({_ELEMENT_TYPES[inner] if known else inner})"
                elif field == 2 and kind == _LENGTH:
                    shape = self._shape(inner)
        return shape, element_type

    def _shape(self, length: int) -> tuple[Dimension, ...]:
        dims: list[Dimension] = []
        for number, wire_type, value in self.wire.message(length):
            if number == 1 and wire_type == _LENGTH:
                dims.append(self._dimension(value))
        return tuple(dims)

    def _dimension(self, length: int) -> Dimension:
        dimension: Dimension = None
        for number, wire_type, value in self.wire.message(length):
            if number == 1 and wire_type == _VARINT:
                dimension = value - (1 << 64) if value >= 1 << 63 else value
            elif number == 2 and wire_type == _LENGTH:
                dimension = self.wire.text(value)
        return dimension
