"""Just enough of the protobuf wire format to read and patch an ONNX graph without the
``onnx`` package.

The inference side installs onnxruntime and numpy only; onnxruntime exposes a model's inputs,
outputs and metadata but not its nodes. Finding the normalisation layers and rewriting them
(:mod:`imagexform.runtime.norm_stats`) needs the nodes, and an ONNX file is a protobuf message
whose layout is fixed by ``onnx.proto``. Fields are kept as raw bytes, so anything this module
does not understand is copied through unchanged; new fields are appended, which protobuf
defines as merging (repeated fields simply gain entries).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a protobuf message this reader can follow."""


@dataclass(frozen=True)
class Field:
    """One field of a message: its number, wire type, value (an int, or the payload bytes of
    a length-delimited field) and the exact bytes it was read from, key included."""

    number: int
    wire: int
    value: int | bytes
    raw: bytes


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise WireError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 64 bits")


def fields(data: bytes) -> Iterator[Field]:
    """The fields of one message, in file order."""
    position = 0
    while position < len(data):
        start = position
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, position = read_varint(data, position)
        elif wire == FIXED64:
            value, position = int.from_bytes(data[position : position + 8], "little"), position + 8
        elif wire == FIXED32:
            value, position = int.from_bytes(data[position : position + 4], "little"), position + 4
        elif wire == LENGTH:
            size, position = read_varint(data, position)
            value, position = data[position : position + size], position + size
        else:
            raise WireError(f"unsupported wire type {wire}")
        if position > len(data):
            raise WireError("truncated field")
        yield Field(number, wire, value, data[start:position])


def encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(number: int, wire: int) -> bytes:
    return encode_varint(number << 3 | wire)


def varint_field(number: int, value: int) -> bytes:
    return key(number, VARINT) + encode_varint(value)


def bytes_field(number: int, payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return key(number, LENGTH) + encode_varint(len(payload)) + payload


def float_field(number: int, value: float) -> bytes:
    return key(number, FIXED32) + struct.pack("<f", value)


def strings(message: bytes, number: int) -> list[str]:
    """Every value of a repeated string field."""
    return [f.value.decode("utf-8") for f in fields(message) if f.number == number]  # type: ignore[union-attr]


def first(message: bytes, number: int) -> Field | None:
    return next((f for f in fields(message) if f.number == number), None)


def join(parts: Iterable[bytes]) -> bytes:
    return b"".join(parts)
