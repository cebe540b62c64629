"""Faster-than-fp32 paths in ONNX Runtime on this CPU, and what they cost in quality.

Networks with random weights give near-constant output, which hides quantisation error, so
both are first trained briefly on ``assets/photos`` (cached under ``--work``):
- RRDBNet ×4, num_feat 32, 6 blocks (×4 bicubic super-resolution, ``--sr-steps``);
- pix2pix ``unet_256`` ngf 64 (denoising, ``--unet-steps``).

For each network:
- ``prepare``: what ``precision="fast"`` decides (:func:`imagexform.runtime.quantize.prepare`),
  calibrated on the first four photos;
- ``recipes``: every int8 recipe (plus QOperator form for comparison), judged on the other four
  photos through :meth:`RuntimeModel.transform` against the fp32 transform, uint8 output as it
  would be saved: PSNR (worst and median) and speed-up (interleaved medians);
- ``session_options``: the fp32 model under ONNX Runtime session settings.
Also ``fp16_conv``: one 64→64 3×3 convolution at 256², fp32 against fp16 weights and data.

Run: .venv/bin/python benchmarks/runtime_precision.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from _photos import photos, psnr
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization.shape_inference import quant_pre_process
from runtime_networks import fitted_models, interleaved

from imagexform.runtime import load_model, processing
from imagexform.runtime.model import RuntimeModel
from imagexform.runtime.quantize import (
    RECIPES,
    Int8Recipe,
    excluded,
    named_nodes,
    prepare,
    quantize,
)
from imagexform.runtime.session import CPU, session_options


def crops(images: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Centre crops (mirror-padded when smaller): the evaluation runs at one size per net."""
    out = []
    for image in images:
        top = max((image.shape[0] - size) // 2, 0)
        left = max((image.shape[1] - size) // 2, 0)
        crop = image[top : top + size, left : left + size]
        pad = ((0, size - crop.shape[0]), (0, size - crop.shape[1]), (0, 0))
        out.append(np.pad(crop, pad, mode="reflect"))
    return out


def tensor(model: RuntimeModel, image: np.ndarray) -> np.ndarray:
    return processing.prepare(image, model.info.io).pixels.transpose(2, 0, 1)[None]


def with_file(model: RuntimeModel, path: Path) -> RuntimeModel:
    clone = load_model(model.path)
    clone.session = ort.InferenceSession(str(path), session_options(0), providers=[CPU])
    return clone


def judge(base: RuntimeModel, other: RuntimeModel, images: list[np.ndarray], repeats: int):
    scores = [psnr(other.transform(image), base.transform(image)) for image in images]
    times = interleaved(
        {"fp32": lambda: base.transform(images[0]), "int8": lambda: other.transform(images[0])},
        repeats,
    )
    return {
        "psnr_db_worst": min(scores),
        "psnr_db_median": statistics.median(scores),
        "seconds": times,
        "speedup": round(times["fp32"]["median_s"] / times["int8"]["median_s"], 2),
    }


def session_settings(path: Path, batch: np.ndarray, repeats: int) -> dict:
    def session(level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, **entries: str):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        for key, value in entries.items():
            options.add_session_config_entry(key, value)
        return ort.InferenceSession(str(path), options, providers=[CPU])

    variants = {
        "onnxruntime_defaults": session(),
        "ours": ort.InferenceSession(str(path), session_options(0), providers=[CPU]),
        "denormals_as_zero": session(**{"session.set_denormal_as_zero": "1"}),
        "extended_optimisation": session(ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
        "basic_optimisation": session(ort.GraphOptimizationLevel.ORT_ENABLE_BASIC),
    }
    return interleaved(
        {name: (lambda s=s: s.run(None, {"image": batch})) for name, s in variants.items()},
        repeats,
    )


def fp16_convolution(repeats: int) -> dict:
    results = {}
    for name, element, dtype in (
        ("fp32", TensorProto.FLOAT, np.float32),
        ("fp16", TensorProto.FLOAT16, np.float16),
    ):
        weights = numpy_helper.from_array((np.random.randn(64, 64, 3, 3) * 0.05).astype(dtype), "w")
        shape = [1, 64, 256, 256]
        graph = helper.make_graph(
            [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
            "conv",
            [helper.make_tensor_value_info("x", element, shape)],
            [helper.make_tensor_value_info("y", element, shape)],
            [weights],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 10
        session = ort.InferenceSession(model.SerializeToString(), providers=[CPU])
        x = np.random.rand(*shape).astype(dtype)
        results[name] = lambda s=session, x=x: s.run(None, {"x": x})
    times = interleaved(results, repeats)
    flops = 2 * 64 * 64 * 9 * 256 * 256
    return {name: {**t, "gflops": round(flops / t["median_s"] / 1e9)} for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sr-steps", type=int, default=300)
    parser.add_argument("--unet-steps", type=int, default=150)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ixf-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    images = photos()
    calibration, evaluation = images[:4], images[4:]
    report = {"onnxruntime": ort.__version__, "networks": []}
    for name, path in fitted_models(args.work, args.sr_steps, args.unet_steps).items():
        base = load_model(path)
        size = 192 if base.info.io.scale > 1 else 256
        judged = crops(evaluation, size)
        cache = args.work / "cache" / path.stem
        shutil.rmtree(cache, ignore_errors=True)
        verdict, _ = prepare(base, calibration, directory=cache)
        entry = {"network": name, "eval_crop": size, "prepare": verdict, "recipes": {}}
        with tempfile.TemporaryDirectory(dir=args.work) as folder:
            prepared = Path(folder) / "prepared.onnx"
            quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
            nodes = named_nodes(prepared)
            feeds = [base.feeds(tensor(base, crop)) for crop in crops(calibration, size)]
            recipes = {name: ("QDQ", recipe) for name, recipe in RECIPES.items()}
            recipes["int8-qoperator-all"] = ("QOperator", Int8Recipe(None))
            for name, (form, recipe) in recipes.items():
                target = Path(folder) / f"{name}.onnx"
                keep = excluded(nodes, recipe)
                if keep is None:
                    continue
                quantize(prepared, target, feeds, recipe.op_types, form, exclude=keep)
                entry["recipes"][name] = judge(base, with_file(base, target), judged, args.repeats)
        batch = tensor(base, crops(evaluation[:1], size)[0])
        entry["session_options"] = session_settings(path, batch, args.repeats)
        report["networks"].append(entry)
    report["fp16_conv"] = fp16_convolution(args.repeats)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
