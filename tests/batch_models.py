"""Models for driving ``imagexform batch`` end to end, built with :mod:`onnx_models`: ones
whose output is easy to predict per pixel, conditioned ones, slow ones and broken ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper
from onnx_models import conv_weights, image_tensor, save

from imagexform.family import ConditionSpec, IOSpec
from imagexform.modelinfo import CLASSIFIER_ROLE, IMAGE_INPUT, OUTPUT, ModelInfo


def info(family: str, *conditions: ConditionSpec) -> ModelInfo:
    """Metadata in the [-1, 1] range that GAN generators use."""
    return ModelInfo(family=family, io=IOSpec(conditions=conditions), title=family)


def invert_model(path: Path, described: ModelInfo | None = None) -> Path:
    """``output = -image`` in [-1, 1]: every sample becomes ``max - sample``."""
    nodes = [helper.make_node("Neg", [IMAGE_INPUT], [OUTPUT])]
    return save(path, nodes, info=described or info("invert"))


STRENGTH = ConditionSpec(name="strength", defaults=(1.0,), value_range=(0.0, 1.0))


def strength_model(path: Path) -> Path:
    """``output = -image × strength``, strength an N×1 input."""
    return save(
        path,
        [
            helper.make_node("Unsqueeze", ["strength", "axes"], ["s4"]),
            helper.make_node("Neg", [IMAGE_INPUT], ["negated"]),
            helper.make_node("Mul", ["negated", "s4"], [OUTPUT]),
        ],
        info=info("strength", STRENGTH),
        inputs=[
            image_tensor(IMAGE_INPUT),
            helper.make_tensor_value_info("strength", TensorProto.FLOAT, ["batch", 1]),
        ],
        initializers=[numpy_helper.from_array(np.array([2, 3], np.int64), "axes")],
    )


HAIR = ("Black_Hair", "Blond_Hair")
ATTRIBUTES = ConditionSpec(
    name="attributes",
    labels=(*HAIR, "Young"),
    defaults=(1.0, 0.0, 0.0),
    groups=(HAIR,),
    value_range=(0.0, 1.0),
)
# Every output sample is attributes · ATTRIBUTE_WEIGHTS (in [-1, 1]), whatever the image.
ATTRIBUTE_WEIGHTS = np.array([[0.5], [-0.5], [-0.25]])


def attributes_model(path: Path) -> Path:
    return save(
        path,
        [
            helper.make_node("MatMul", ["attributes", "weights"], ["offset"]),
            helper.make_node("Unsqueeze", ["offset", "axes"], ["offset4"]),
            helper.make_node("Mul", [IMAGE_INPUT, "zero"], ["blank"]),
            helper.make_node("Add", ["blank", "offset4"], [OUTPUT]),
        ],
        info=info("faces", ATTRIBUTES),
        inputs=[
            image_tensor(IMAGE_INPUT),
            helper.make_tensor_value_info("attributes", TensorProto.FLOAT, ["batch", 3]),
        ],
        initializers=[
            numpy_helper.from_array(ATTRIBUTE_WEIGHTS.astype(np.float32), "weights"),
            numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        ],
    )


def model_without_image_input(path: Path) -> Path:
    return save(
        path,
        [helper.make_node("Neg", ["pixels"], [OUTPUT])],
        info=info("broken"),
        inputs=[image_tensor("pixels")],
    )


def model_missing_declared_condition(path: Path) -> Path:
    """Metadata promises a ``strength`` input that the graph does not have."""
    return save(
        path, [helper.make_node("Neg", [IMAGE_INPUT], [OUTPUT])], info=info("broken", STRENGTH)
    )


def slow_model(path: Path, width: int = 16, layers: int = 4) -> Path:
    """Full-resolution 3×3 convolutions: real work per image, like a small generator."""
    rng = np.random.default_rng(0)
    nodes, weights = [], []
    current, channels = IMAGE_INPUT, 3
    for layer in range(layers):
        last = layer == layers - 1
        out_channels = 3 if last else width
        kernel = rng.normal(0, (1 / (channels * 9)) ** 0.5, (out_channels, channels, 3, 3))
        weights.append(conv_weights(kernel, f"w{layer}"))
        conv = f"c{layer}"
        nodes.append(helper.make_node("Conv", [current, f"w{layer}"], [conv], pads=[1] * 4))
        current = OUTPUT if last else f"h{layer}"
        nodes.append(helper.make_node("Tanh" if last else "Relu", [conv], [current]))
        channels = out_channels
    return save(path, nodes, info=info("slow"), initializers=weights)


def classifier_model(path: Path, described: ModelInfo | None = None) -> Path:
    """Sigmoid of each channel's mean: a cyan photo is 'blond' and 'young', not black-haired.
    By default the attribute classifier of the "faces" models (three labels)."""
    described = described or ModelInfo(
        family="faces", io=IOSpec(out_channels=3), variant="classifier", role=CLASSIFIER_ROLE
    )
    return save(
        path,
        [
            helper.make_node("GlobalAveragePool", [IMAGE_INPUT], ["mean"]),
            helper.make_node("Flatten", ["mean"], ["flat"]),
            helper.make_node("Sigmoid", ["flat"], [OUTPUT]),
        ],
        info=described,
        outputs=[helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", 3])],
    )
