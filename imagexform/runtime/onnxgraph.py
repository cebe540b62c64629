"""An ONNX model's node list, read and rewritten with :mod:`~imagexform.runtime.protowire`.

Only what :mod:`imagexform.runtime.norm_stats` needs: the nodes (operator, inputs, outputs,
attributes), the default-domain opset, and writing the model back with some nodes replaced
and graph inputs, outputs and initializers added. Everything else in the file (weights,
metadata, value infos) is carried over byte for byte. Field numbers are those of
``onnx.proto`` (ModelProto, GraphProto, NodeProto, ValueInfoProto, TensorProto).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from imagexform.runtime import protowire as pw

# ModelProto
_MODEL_OPSET, _MODEL_GRAPH = 8, 7
# GraphProto
_NODE, _INITIALIZER, _INPUT, _OUTPUT = 1, 5, 11, 12
# NodeProto
_N_INPUT, _N_OUTPUT, _N_NAME, _N_OP, _N_ATTRIBUTE, _N_DOMAIN = 1, 2, 3, 4, 5, 7
# AttributeProto
_A_NAME, _A_F, _A_I, _A_G, _A_INTS, _A_GRAPHS = 1, 2, 3, 6, 8, 11
# TensorProto
_T_DIMS, _T_TYPE, _T_INT64, _T_NAME, _T_RAW = 1, 2, 7, 8, 9
FLOAT, INT64 = 1, 7


@dataclass(frozen=True)
class Node:
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, pw.Field] = field(default_factory=dict)
    has_subgraph: bool = False

    def float_attribute(self, name: str, default: float) -> float:
        found = self.attributes.get(name)
        value = pw.first(found.value, _A_F) if found is not None else None  # type: ignore[arg-type]
        return default if value is None else struct.unpack("<f", value.raw[-4:])[0]

    def int_attribute(self, name: str, default: int) -> int:
        found = self.attributes.get(name)
        value = pw.first(found.value, _A_I) if found is not None else None  # type: ignore[arg-type]
        return default if value is None else _signed(int(value.value))  # type: ignore[arg-type]

    def ints_attribute(self, name: str) -> list[int] | None:
        found = self.attributes.get(name)
        return None if found is None else _ints(found.value, _A_INTS)  # type: ignore[arg-type]


@dataclass
class Graph:
    """A parsed model: its top-level fields, its graph's fields, and the nodes in order."""

    model_fields: list[pw.Field]
    graph_fields: list[pw.Field]
    nodes: list[Node]
    opset: int

    def initializer_ints(self, name: str) -> list[int] | None:
        """The values of an int64 initializer (a Reduce op's ``axes`` input), or None."""
        for item in self.graph_fields:
            if item.number == _INITIALIZER and name in pw.strings(item.value, _T_NAME):  # type: ignore[arg-type]
                return _tensor_ints(item.value)  # type: ignore[arg-type]
        return None


def read_graph(data: bytes) -> Graph:
    """Parse a serialized ModelProto; :class:`~imagexform.runtime.protowire.WireError` when it
    is not one."""
    model_fields = list(pw.fields(data))
    graph = next((f for f in model_fields if f.number == _MODEL_GRAPH), None)
    if graph is None or not isinstance(graph.value, bytes):
        raise pw.WireError("no graph in the model")
    graph_fields = list(pw.fields(graph.value))
    nodes = [_node(f.value) for f in graph_fields if f.number == _NODE]  # type: ignore[arg-type]
    opset = 1
    for item in model_fields:
        if item.number == _MODEL_OPSET:
            parts = {f.number: f.value for f in pw.fields(item.value)}  # type: ignore[arg-type]
            if parts.get(1, b"") in (b"", b"ai.onnx"):
                opset = int(parts.get(2, 1))  # type: ignore[arg-type]
    return Graph(model_fields, graph_fields, nodes, opset)


def _node(data: bytes) -> Node:
    parts = list(pw.fields(data))
    attributes = {}
    subgraph = False
    for item in parts:
        if item.number == _N_ATTRIBUTE:
            names = pw.strings(item.value, _A_NAME)  # type: ignore[arg-type]
            attributes[names[0] if names else ""] = item
            subgraph |= any(f.number in (_A_G, _A_GRAPHS) for f in pw.fields(item.value))  # type: ignore[arg-type]

    def texts(number: int) -> tuple[str, ...]:
        return tuple(p.value.decode() for p in parts if p.number == number)  # type: ignore[union-attr]

    op = texts(_N_OP)
    domain = texts(_N_DOMAIN)
    return Node(
        op[0] if op else "",
        domain[0] if domain else "",
        texts(_N_INPUT),
        texts(_N_OUTPUT),
        attributes,
        subgraph,
    )


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _ints(message: bytes, number: int) -> list[int]:
    """A repeated int64 field, packed or not."""
    values: list[int] = []
    for item in pw.fields(message):
        if item.number != number:
            continue
        if isinstance(item.value, bytes):
            position = 0
            while position < len(item.value):
                value, position = pw.read_varint(item.value, position)
                values.append(_signed(value))
        else:
            values.append(_signed(item.value))
    return values


def _tensor_ints(message: bytes) -> list[int] | None:
    kind = pw.first(message, _T_TYPE)
    if kind is None or kind.value != INT64:
        return None
    raw = pw.first(message, _T_RAW)
    if raw is not None:
        return np.frombuffer(raw.value, "<i8").tolist()  # type: ignore[arg-type]
    return _ints(message, _T_INT64)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str) -> bytes:
    """A serialized NodeProto of the default domain, without attributes."""
    return pw.join(
        [
            *(pw.bytes_field(_N_INPUT, value) for value in inputs),
            *(pw.bytes_field(_N_OUTPUT, value) for value in outputs),
            pw.bytes_field(_N_NAME, name),
            pw.bytes_field(_N_OP, op_type),
        ]
    )


def tensor_value(name: str, dims: Sequence[str | int]) -> bytes:
    """A float ValueInfoProto (graph input or output) with the given dimensions: ints are
    fixed sizes, strings name dynamic ones."""
    shape = pw.join(
        pw.bytes_field(
            1,
            pw.varint_field(1, dim) if isinstance(dim, int) else pw.bytes_field(2, dim),
        )
        for dim in dims
    )
    tensor = pw.varint_field(1, FLOAT) + pw.bytes_field(2, shape)
    return pw.bytes_field(1, name) + pw.bytes_field(2, pw.bytes_field(1, tensor))


def initializer(name: str, values: np.ndarray) -> bytes:
    """A TensorProto holding ``values`` (float32 or int64)."""
    kind = INT64 if values.dtype == np.int64 else FLOAT
    data = np.ascontiguousarray(values, "<i8" if kind == INT64 else "<f4").tobytes()
    return pw.join(
        [
            *(pw.varint_field(_T_DIMS, dim) for dim in values.shape),
            pw.varint_field(_T_TYPE, kind),
            pw.bytes_field(_T_NAME, name),
            pw.bytes_field(_T_RAW, data),
        ]
    )


@dataclass
class Edit:
    """What to change in a graph: replacement node lists by node index (an empty list drops
    the node), and entries to add."""

    replace: dict[int, list[bytes]] = field(default_factory=dict)
    append_nodes: list[bytes] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    outputs: list[bytes] | None = None  # None keeps the graph's outputs
    initializers: list[bytes] = field(default_factory=list)


def rewrite(graph: Graph, edit: Edit) -> bytes:
    """The model serialized again with ``edit`` applied; node order is kept, replacements
    take the replaced node's place, so the list stays topologically sorted."""
    parts: list[bytes] = []
    index = 0
    for item in graph.graph_fields:
        if item.number == _NODE:
            parts.extend(pw.bytes_field(_NODE, n) for n in edit.replace.get(index, [item.value]))  # type: ignore[list-item]
            index += 1
        elif item.number == _OUTPUT and edit.outputs is not None:
            continue
        else:
            parts.append(item.raw)
    parts += [pw.bytes_field(_NODE, n) for n in edit.append_nodes]
    parts += [pw.bytes_field(_INPUT, value) for value in edit.inputs]
    parts += [pw.bytes_field(_OUTPUT, value) for value in edit.outputs or []]
    parts += [pw.bytes_field(_INITIALIZER, value) for value in edit.initializers]
    body = pw.join(parts)
    return pw.join(
        pw.bytes_field(_MODEL_GRAPH, body) if item.number == _MODEL_GRAPH else item.raw
        for item in graph.model_fields
    )


def needed_nodes(nodes: Sequence[Node], outputs: Iterable[str]) -> set[int]:
    """Indices of the nodes that the named tensors depend on."""
    producer = {name: index for index, n in enumerate(nodes) for name in n.outputs}
    wanted = list(outputs)
    keep: set[int] = set()
    while wanted:
        index = producer.get(wanted.pop())
        if index is None or index in keep:
            continue
        keep.add(index)
        wanted.extend(name for name in nodes[index].inputs if name)
    return keep
