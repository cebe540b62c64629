"""Describing a model file: imagexform's header reader against an onnxruntime session.

What ``models info``, the model list and the editor's model panel cost per file. The baseline
is what they did before the reader existed: an ``InferenceSession`` (CPU, graph optimisation
off) and its model metadata, inputs and outputs. Files: the shipped ×4 model, and a generated
identity through 256 MiB of weights. Medians of interleaved calls, seconds; ratio is session
over reader.

Run: .venv/bin/python benchmarks/runtime_modelfile.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from _medians import interleaved_medians
from onnx import TensorProto, helper, numpy_helper

from imagexform.runtime.modelfile import inspect_model

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "models" / "imagexform-sr-x4.onnx"
HEAVY_BYTES = 256 * 2**20


def heavy_model(path: Path) -> Path:
    """image → 1×1 conv to ``width`` channels → 1×1 conv back, weights filling HEAVY_BYTES."""
    width = HEAVY_BYTES // (2 * 3 * 4)
    spread = np.zeros((width, 3, 1, 1), np.float32)
    gather = np.zeros((3, width, 1, 1), np.float32)
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "spread"], ["features"]),
            helper.make_node("Conv", ["features", "gather"], ["output"]),
        ],
        "heavy",
        [image],
        [output],
        [numpy_helper.from_array(spread, "spread"), numpy_helper.from_array(gather, "gather")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return path


def with_session(path: Path) -> None:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.get_modelmeta()
    session.get_inputs()
    session.get_outputs()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    report: dict[str, object] = {"benchmark": "runtime_modelfile", "repeats": repeats}
    with tempfile.TemporaryDirectory() as work:
        for label, path in (
            ("shipped_x4", SHIPPED),
            ("heavy_256mib", heavy_model(Path(work) / "h.onnx")),
        ):
            times = interleaved_medians(
                {
                    "reader": lambda p=path: inspect_model(p),
                    "session": lambda p=path: with_session(p),
                },
                repeats,
            )
            report[label] = {
                "file_mib": round(path.stat().st_size / 2**20, 1),
                "reader_s": round(times["reader"], 5),
                "session_s": round(times["session"], 4),
                "ratio_session_over_reader": round(times["session"] / times["reader"], 1),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
