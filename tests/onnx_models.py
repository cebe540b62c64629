"""Tiny real ONNX models built node by node, whose outputs are known exactly.

Each builder writes a ``.onnx`` file with dynamic batch, height and width and, unless
``info`` is None, our :class:`ModelInfo` JSON in its metadata, and returns the path. They need
the ``onnx`` package (a training dependency), so tests using them import this module through
``pytest.importorskip("onnx")`` first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from imagexform.family import ConditionSpec, IOSpec, TileHints
from imagexform.modelinfo import IMAGE_INPUT, METADATA_KEY, OUTPUT, ModelInfo

IR_VERSION = 10  # onnx 1.23 writes 14 by default, which onnxruntime 1.31 refuses
OPSET = 18


def model_info(io: IOSpec | None = None, tile: TileHints | None = None) -> ModelInfo:
    return ModelInfo(
        family="test", io=io or IOSpec(value_range=(0.0, 1.0)), tile=tile or TileHints()
    )


def image_tensor(name: str, channels: int = 3, size: tuple = ("height", "width")):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", channels, *size])


def save(
    path: Path,
    nodes: list,
    *,
    info: ModelInfo | None,
    inputs: list | None = None,
    outputs: list | None = None,
    initializers: list | None = None,
) -> Path:
    graph = helper.make_graph(
        nodes,
        path.stem,
        inputs or [image_tensor(IMAGE_INPUT)],
        outputs or [image_tensor(OUTPUT)],
        initializers or [],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if info is not None:
        helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_weights(kernel: np.ndarray, name: str = "weights") -> onnx.TensorProto:
    return numpy_helper.from_array(kernel.astype(np.float32), name)


def identity(path: Path, info: ModelInfo | None = None) -> Path:
    """A 3×3 convolution whose kernel is 1 at the centre for each channel: output = input."""
    kernel = np.zeros((3, 3, 3, 3))
    for channel in range(3):
        kernel[channel, channel, 1, 1] = 1.0
    return save(
        path,
        [helper.make_node("Conv", [IMAGE_INPUT, "weights"], [OUTPUT], pads=[1, 1, 1, 1])],
        info=info or model_info(),
        initializers=[conv_weights(kernel)],
    )


def foreign_identity(path: Path, size: tuple = ("height", "width")) -> Path:
    """An identity without our metadata, under other tensor names, optionally of fixed size."""
    return save(
        path,
        [helper.make_node("Identity", ["input"], ["result"])],
        info=None,
        inputs=[image_tensor("input", size=size)],
        outputs=[image_tensor("result", size=size)],
    )


def upscaler(path: Path, scale: int, info: ModelInfo | None = None, metadata: bool = True) -> Path:
    """Nearest-neighbour upscaling by ``scale``: each pixel becomes a scale×scale block."""
    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales")
    if info is None and metadata:
        info = model_info(IOSpec(value_range=(0.0, 1.0), scale=scale))
    return save(
        path,
        [helper.make_node("Resize", [IMAGE_INPUT, "", "scales"], [OUTPUT], mode="nearest")],
        info=info,
        initializers=[scales],
    )


def blur_stack(
    path: Path, layers: int = 3, info: ModelInfo | None = None, *, own_weights: bool = False
) -> Path:
    """``layers`` 5×5 box blurs with zero padding: a receptive field of radius 2 × layers,
    and dark borders where the padding enters, as real networks have. ``own_weights``: each
    layer has its own initializer (equal values), as trained networks do, instead of one."""
    kernel = np.zeros((3, 1, 5, 5)) + 1 / 25
    names = [f"weights{layer}" if own_weights else "weights" for layer in range(layers)]
    nodes, previous = [], IMAGE_INPUT
    for layer in range(layers):
        current = OUTPUT if layer == layers - 1 else f"blur{layer}"
        nodes.append(
            helper.make_node("Conv", [previous, names[layer]], [current], pads=[2] * 4, group=3)
        )
        previous = current
    weights = [conv_weights(kernel, name) for name in dict.fromkeys(names)]
    return save(path, nodes, info=info or model_info(), initializers=weights)


def first_channel(path: Path, color_order: str) -> Path:
    """Every output channel is input channel 0: R for an RGB model, B for a BGR one."""
    kernel = np.zeros((3, 3, 1, 1))
    kernel[:, 0] = 1.0
    info = model_info(IOSpec(value_range=(0.0, 1.0), color_order=color_order))
    return save(
        path,
        [helper.make_node("Conv", [IMAGE_INPUT, "weights"], [OUTPUT])],
        info=info,
        initializers=[conv_weights(kernel)],
    )


def absolute(path: Path, value_range: tuple[float, float]) -> Path:
    """|x|: in the range -1..1 black (-1) becomes white (1); in 0..1 nothing changes."""
    info = model_info(IOSpec(value_range=value_range))
    return save(path, [helper.make_node("Abs", [IMAGE_INPUT], [OUTPUT])], info=info)


def needs_multiple(path: Path, multiple: int, declare: bool = True) -> Path:
    """SpaceToDepth then DepthToSpace: output = input, but only for sizes that are multiples
    of ``multiple``; anything else fails inside onnxruntime."""
    io = IOSpec(value_range=(0.0, 1.0), size_multiple=multiple if declare else 1)
    return save(
        path,
        [
            helper.make_node("SpaceToDepth", [IMAGE_INPUT], ["packed"], blocksize=multiple),
            helper.make_node("DepthToSpace", ["packed"], [OUTPUT], blocksize=multiple),
        ],
        info=model_info(io),
    )


STRENGTH = ConditionSpec(
    name="shift", labels=("up", "down"), defaults=(0.0, 0.0), value_range=(-0.5, 0.5)
)


def shifter(path: Path, condition: ConditionSpec = STRENGTH, info: ModelInfo | None = None) -> Path:
    """output = image + (up - down), the condition an N×2 vector: shows that values arrive."""
    name = condition.name
    signs = numpy_helper.from_array(np.array([[1.0], [-1.0]], np.float32), "signs")
    shape = numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "shape")
    info = info or model_info(IOSpec(value_range=(0.0, 1.0), conditions=(condition,)))
    return save(
        path,
        [
            helper.make_node("MatMul", [name, "signs"], ["offset"]),
            helper.make_node("Reshape", ["offset", "shape"], ["offset4"]),
            helper.make_node("Add", [IMAGE_INPUT, "offset4"], [OUTPUT]),
        ],
        info=info,
        inputs=[
            image_tensor(IMAGE_INPUT),
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 2]),
        ],
        initializers=[signs, shape],
    )


def wide_identity(path: Path, width: int = 64) -> Path:
    """output = input through ``width`` intermediate channels: memory-hungry like a real
    network (``width`` floats per pixel), for out-of-memory tests."""
    spread = np.zeros((width, 3, 1, 1))
    gather = np.zeros((3, width, 1, 1))
    for channel in range(3):
        spread[channel, channel] = gather[channel, channel] = 1.0
    return save(
        path,
        [
            helper.make_node("Conv", [IMAGE_INPUT, "spread"], ["features"]),
            helper.make_node("Relu", ["features"], ["active"]),
            helper.make_node("Conv", ["active", "gather"], [OUTPUT]),
        ],
        info=model_info(),
        initializers=[conv_weights(spread, "spread"), conv_weights(gather, "gather")],
    )
