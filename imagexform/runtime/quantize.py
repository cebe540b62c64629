"""The ``fast`` precision: bf16 on OpenVINO or an int8 copy of the model, used only where it is
faster and close; ``auto`` uses what ``fast`` chose before.

Measured on the 2-core development CPU (AMD EPYC, AVX-512 with VNNI and BF16, no AMX), ONNX
Runtime 1.31, with ``benchmarks/runtime_precision.py`` on briefly trained networks,
calibrated on four of ``assets/photos`` and judged on the other four (uint8 output PSNR
against fp32, worst photo):

- Static int8 in QDQ form, int8 per-channel weights, uint8 activations: RRDBNet ×4 runs 2.65×
  faster at 41.4 dB with every supported operator quantised, 2.4× at 43.9 dB with only the
  convolutions. QOperator form is no faster (2.5×); 16-bit activations were 4× slower than
  fp32.
- The pix2pix U-Net gains 1.4× at 50.8 dB with only convolutions quantised (its transposed
  convolutions have no int8 kernel) and nothing (1.1×) with every operator.
- fp16: a 3×3 convolution runs at the same speed as in fp32 (ONNX Runtime's x86 CPU kernels
  gain nothing from it), so no fp16 path. bf16 fast math is an ARM-only session option.
- bf16 through OpenVINO (:mod:`imagexform.runtime.openvino_engine`), where the CPU has bf16
  instructions: RRDBNet ×4 2.2× ONNX Runtime fp32 (issue 23); no calibration, but its drift
  differs per network (ResNet-9 outputs moved 0.07 in tanh range), so it is judged like int8.
- The same int8 files compiled by OpenVINO (the rest in bf16) ran faster than on ONNX Runtime
  (``benchmarks/precision_table.py``): the shipped ×4 upscaler 3.3× fp32 at 53.5 dB against
  2.4×; Real-ESRGAN's trained animevideov3 (Compact) 3.6× against 1.8×.
- On Real-ESRGAN's *trained* networks (``benchmarks/ncnn_weights.py``) int8 everywhere stays
  under 40 dB (x4plus 34 dB at 3.3×, animevideov3 37 dB at 3.6×); leaving the first
  convolution and the last third float (``int8-qdq-conv-early``) brings animevideov3 to
  40.0 dB at 3.1× on OpenVINO, x4plus only to 37 dB (there bf16 wins: 2.2× at 52 dB).
  Percentile activation ranges gained 1-2 dB over min/max on both.

No recipe suits every network, so preparing a model tries each int8 recipe on each engine and
bf16, measures each against the fp32 model on crops of the user's own sample images, and keeps
the fastest that stays above :data:`MIN_PSNR` and is clearly faster (among those about as
fast, the closest to fp32); otherwise fp32. The verdict and the int8 file are cached by the
model's sha256 and the machine (:func:`imagexform.runtime.cache.machine_key`), so this
happens once per model and machine. Quantisation needs the ``onnx`` package.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from imagexform.errors import UserError
from imagexform.io.digest import file_sha256
from imagexform.io.images import display_path
from imagexform.runtime import openvino_engine, processing
from imagexform.runtime.cache import cache_dir, machine_key, read_record, write_record
from imagexform.runtime.engines import on_openvino
from imagexform.runtime.session import ON_HOST, create_session

if TYPE_CHECKING:
    from imagexform.runtime.model import RuntimeModel

log = logging.getLogger(__name__)

# 2: records are per machine and bf16 on OpenVINO is a candidate. 3: percentile ranges, the
# early-convolutions recipe and int8 files on OpenVINO.
RECIPE_VERSION = 3


@dataclass(frozen=True)
class Int8Recipe:
    """Which nodes one int8 file quantises."""

    op_types: list[str] | None  # None: every type ONNX Runtime can quantise
    # Quantise only the convolutions after the first and before this share of them (in graph
    # order); the rest keep full precision. 1.0: every one.
    conv_share: float = 1.0


RECIPES: dict[str, Int8Recipe] = {
    "int8-qdq-all": Int8Recipe(None),
    "int8-qdq-conv": Int8Recipe(["Conv"]),
    "int8-qdq-conv-early": Int8Recipe(["Conv"], conv_share=2 / 3),
}
# bfloat16 compiled by OpenVINO (AMX or AVX512-BF16 kernels); no file to keep.
BF16 = "bf16-openvino"
# An int8 file compiled by OpenVINO, its other operators in bf16 where the CPU has it:
# "<recipe>-openvino".
ON_OPENVINO = "-openvino"
# Activation ranges cover this share of the values seen on the calibration crops: the
# extremes of a trained network's activations stretched min/max ranges (Real-ESRGAN x4plus:
# 34.8 dB min/max, 36.7 dB at this percentile).
CALIBRATION_PERCENTILE = 99.999
MIN_PSNR = 40.0
MIN_SPEEDUP = 1.15
SPEED_TOLERANCE = 1.1
MAX_SAMPLES = 8
_ROUNDS = 3


def fast_model(
    model: RuntimeModel,
    calibration: Sequence[np.ndarray] | None,
    threads: int,
    *,
    cached_only: bool = False,
) -> RuntimeModel:
    """``model`` at the reduced precision preparation found worth it, else itself.
    ``cached_only`` (precision ``auto``) uses a verdict prepared before and never prepares."""
    if model.provider not in ON_HOST:
        if not cached_only:
            log.warning(
                "%s: precision 'fast' is for the CPU; running fp32 on %s",
                model.name,
                model.provider,
            )
        return model
    if cached_only:
        found = cached_verdict(model.path)
        if found is None:
            return model
        report, quantized = found
    else:
        report, quantized = prepare(model, calibration)
    recipe = report["recipe"]
    if recipe == "fp32":
        if not cached_only:
            log.warning(
                "%s: no reduced precision is both faster and within %g dB; running fp32",
                model.name,
                MIN_PSNR,
            )
        return model
    fast = _recipe_model(model, recipe, quantized, threads)
    fast.precision = recipe
    fast.precision_report = report
    return fast


def _recipe_model(
    model: RuntimeModel, recipe: str, quantized: Path | None, threads: int
) -> RuntimeModel:
    """A copy of ``model`` that runs ``recipe`` (``quantized`` is its int8 file)."""
    if recipe == BF16:
        return on_openvino(model, threads, "bf16")
    if recipe.endswith(ON_OPENVINO):
        precision = "bf16" if openvino_engine.has_bf16() else "f32"
        return on_openvino(model, threads, precision, quantized)
    moved = copy.copy(model)
    moved.session = create_session(quantized, "cpu", threads)  # type: ignore[arg-type]
    moved.session_tuning = None
    return moved


def int8_recipe(recipe: str) -> str | None:
    """The int8 recipe whose file ``recipe`` runs; None for fp32 and bf16."""
    name = recipe.removesuffix(ON_OPENVINO)
    return name if name in RECIPES else None


def _record_path(folder: Path, digest: str) -> Path:
    return folder / f"{digest}.{machine_key()}.v{RECIPE_VERSION}.json"


def cached_verdict(
    model_path: Path, directory: Path | None = None
) -> tuple[dict[str, Any], Path | None] | None:
    """The verdict prepared before for the model file on this machine and its int8 file (None
    for fp32 and bf16); None when there is none or its int8 file is gone."""
    folder = directory or cache_dir() / "int8"
    digest = file_sha256(model_path)
    cached = _read_record(_record_path(folder, digest))
    if cached is None:
        return None
    if not int8_recipe(cached["recipe"]):
        return cached, None
    quantized = folder / f"{digest}.{cached['recipe']}.onnx"
    return (cached, quantized) if quantized.is_file() else None


def prepare(
    model: RuntimeModel,
    calibration: Sequence[np.ndarray] | None,
    *,
    directory: Path | None = None,
    min_psnr: float = MIN_PSNR,
    min_speedup: float = MIN_SPEEDUP,
) -> tuple[dict[str, Any], Path | None]:
    """The cached verdict for ``model`` and its int8 file (None for fp32 and bf16), preparing
    them from ``calibration`` images the first time."""
    found = cached_verdict(model.path, directory)
    if found is not None:
        return found
    if not calibration:
        raise UserError(
            f"{model.name}: precision 'fast' needs sample images the first time, to calibrate "
            "and check the reduced-precision model"
        )
    folder = directory or cache_dir() / "int8"
    folder.mkdir(parents=True, exist_ok=True)
    digest = file_sha256(model.path)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".prepare-") as work:
        candidates, samples = _candidates(model, calibration, Path(work))
        best = _best(candidates, min_psnr, min_speedup)
        report = {
            "recipe": best["recipe"] if best else "fp32",
            "candidates": candidates,
            "samples": samples,
            "onnxruntime": ort.__version__,
        }
        quantized = None
        if best is not None and int8_recipe(best["recipe"]):
            quantized = folder / f"{digest}.{best['recipe']}.onnx"
            os.replace(Path(work) / f"{int8_recipe(best['recipe'])}.onnx", quantized)
        write_record(_record_path(folder, digest), report)
    log.info("%s: precision verdict %s", model.name, report)
    return report, quantized


def _candidates(
    model: RuntimeModel, calibration: Sequence[np.ndarray], work: Path
) -> tuple[list[dict[str, Any]], int]:
    """Each recipe's int8 model written into ``work`` (as ``<recipe>.onnx``) and measured
    against ``model`` on ONNX Runtime and, where installed, on OpenVINO; with bf16 and the
    number of samples judged on."""
    quantization = _quantization_modules(model.name)
    calibrate, evaluate = _sample_batches(model, calibration)
    reference = [model.run(batch) for batch in evaluate]
    candidates = _bf16_candidates(model, evaluate, reference)
    prepared = work / "prepared.onnx"
    quantization.quant_pre_process(str(model.path), str(prepared), skip_symbolic_shape=True)
    nodes = named_nodes(prepared)
    feeds = [model.feeds(batch) for batch in calibrate]
    engines = ("", ON_OPENVINO) if openvino_engine.available() else ("",)
    for name, recipe in RECIPES.items():
        keep = excluded(nodes, recipe)
        if keep is None:
            continue
        target = work / f"{name}.onnx"
        quantize(prepared, target, feeds, recipe.op_types, exclude=keep)
        for engine in engines:
            candidate = _recipe_model(model, name + engine, target, 0)
            candidates.append(
                {
                    "recipe": name + engine,
                    "psnr_db": _psnr(candidate, evaluate, reference),
                    "speedup": _speedup(model, candidate, evaluate[0]),
                }
            )
    return candidates, len(evaluate)


def named_nodes(path: Path) -> list[Any]:
    """The model file's nodes, each with a name (the file saved again where some had none):
    the quantiser leaves nodes float only by name (exporters name them all; hand-built graphs
    often do not)."""
    import onnx

    proto = onnx.load(str(path))
    if all(node.name for node in proto.graph.node):
        return list(proto.graph.node)
    taken = {node.name for node in proto.graph.node}
    for index, node in enumerate(proto.graph.node):
        if node.name:
            continue
        name = f"{node.op_type}_{index}"
        while name in taken:
            name += "_"
        node.name = name
        taken.add(name)
    onnx.save(proto, str(path))
    return list(proto.graph.node)


def excluded(nodes: Sequence[Any], recipe: Int8Recipe) -> list[str] | None:
    """The convolutions among a model's ``nodes`` that ``recipe`` leaves in full precision;
    None when it would quantise nothing in this model (the calibrator then has nothing to
    measure).

    Those left float are the first convolution, which sees the raw image, and those from
    ``conv_share`` on, the closest to the output. On Real-ESRGAN's trained animevideov3 this
    lifted the worst PSNR from 37.3 to 40.0 dB (3.1× fp32 on OpenVINO instead of 3.6×); on
    x4plus from 34 to 37 dB, still short of 40."""
    from onnxruntime.quantization.registry import QDQRegistry

    keep: list[str] = []
    if recipe.conv_share < 1:
        convs = [node.name for node in nodes if node.op_type == "Conv"]
        keep = convs[:1] + convs[max(math.ceil(len(convs) * recipe.conv_share), 1) :]
    kinds = set(recipe.op_types or QDQRegistry)
    if not any(node.op_type in kinds and node.name not in keep for node in nodes):
        return None
    return keep


def _bf16_candidates(
    model: RuntimeModel, evaluate: list[np.ndarray], reference: list[np.ndarray]
) -> list[dict[str, Any]]:
    """bf16 on OpenVINO, measured like the int8 recipes, where OpenVINO is installed and the
    CPU has bf16 instructions (else OpenVINO would emulate it, slower than fp32)."""
    if not (openvino_engine.available() and openvino_engine.has_bf16()):
        return []
    candidate = on_openvino(model, 0, "bf16")
    return [
        {
            "recipe": BF16,
            "psnr_db": _psnr(candidate, evaluate, reference),
            "speedup": _speedup(model, candidate, evaluate[0]),
        }
    ]


def _best(
    candidates: list[dict[str, Any]], min_psnr: float, min_speedup: float
) -> dict[str, Any] | None:
    """The recipe to run, None for fp32. Timing on a shared machine is noisy: among recipes
    within 10% of the fastest, the closest to fp32 wins."""
    fit = [c for c in candidates if c["psnr_db"] >= min_psnr and c["speedup"] >= min_speedup]
    if not fit:
        return None
    fastest = max(c["speedup"] for c in fit)
    near = [c for c in fit if c["speedup"] >= fastest / SPEED_TOLERANCE]
    return max(near, key=lambda c: c["psnr_db"])


def quantize(
    source: Path,
    target: Path,
    feeds: Sequence[Mapping[str, np.ndarray]],
    op_types: list[str] | None,
    quant_format: str = "QDQ",
    exclude: Sequence[str] = (),
) -> None:
    """Static int8 quantisation of ``source`` into ``target``, activation ranges fitted on
    ``feeds`` (:data:`CALIBRATION_PERCENTILE`), the nodes named in ``exclude`` left float.
    Weights are int8 per output channel, activations uint8: the pairing ONNX Runtime's x86
    integer kernels (VNNI) are built for."""
    quantization = _quantization_modules(display_path(source))
    quantization.quantize_static(
        str(source),
        str(target),
        _Reader(iter(feeds)),
        quant_format=getattr(quantization.QuantFormat, quant_format),
        per_channel=True,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
        op_types_to_quantize=op_types,
        nodes_to_exclude=list(exclude),
        calibrate_method=quantization.CalibrationMethod.Percentile,
        extra_options={"CalibPercentile": CALIBRATION_PERCENTILE},
    )


class _Reader:
    """The calibration data reader interface ONNX Runtime's quantiser iterates."""

    def __init__(self, feeds: Iterator[Mapping[str, np.ndarray]]) -> None:
        self._feeds = feeds

    def get_next(self) -> Mapping[str, np.ndarray] | None:
        return next(self._feeds, None)


def _quantization_modules(name: str) -> SimpleNamespace:
    try:
        import onnx  # noqa: F401  (the quantiser needs it; fail here with a clear message)
        from onnxruntime import quantization
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise UserError(
            f"{name}: precision 'fast' needs the onnx package to build the int8 model; "
            "pip install onnx (or use precision 'fp32')"
        ) from None
    return SimpleNamespace(
        quant_pre_process=quant_pre_process,
        quantize_static=quantization.quantize_static,
        QuantFormat=quantization.QuantFormat,
        QuantType=quantization.QuantType,
        CalibrationMethod=quantization.CalibrationMethod,
    )


def _sample_batches(
    model: RuntimeModel, images: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two different crops of each sample image, one to calibrate on and one to judge with, so
    the verdict is not measured on the data the ranges were fitted to."""
    io = model.info.io
    fixed = model.fixed_size
    edge = 128 if io.scale > 1 else 256
    multiple = io.size_multiple
    size = fixed or (-(-edge // multiple) * multiple,) * 2
    calibrate, evaluate = [], []
    for image in images[:MAX_SAMPLES]:
        pixels = processing.prepare(image, io).pixels
        height, width = pixels.shape[:2]
        for where, batches in ((1 / 3, calibrate), (2 / 3, evaluate)):
            top = max(min(int(height * where) - size[0] // 2, height - size[0]), 0)
            left = max(min(int(width * where) - size[1] // 2, width - size[1]), 0)
            crop = pixels[top : top + size[0], left : left + size[1]]
            batches.append(processing.pad_to(crop, *size).transpose(2, 0, 1)[None])
    return calibrate, evaluate


def _psnr(candidate: RuntimeModel, batches: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """The worst PSNR over the samples, on outputs as they would be saved (clipped to the
    value range, which is mapped to 0..1)."""
    low, high = candidate.info.io.value_range
    worst = float("inf")
    for batch, expected in zip(batches, reference, strict=True):
        got = np.clip((candidate.run(batch) - low) / (high - low), 0, 1)
        want = np.clip((expected - low) / (high - low), 0, 1)
        mse = float(np.mean((got - want) ** 2))
        worst = min(worst, 10 * np.log10(1 / mse) if mse > 0 else 99.0)
    return round(worst, 2)


def _speedup(base: RuntimeModel, candidate: RuntimeModel, batch: np.ndarray) -> float:
    """fp32 time over int8 time, interleaved so that load from other processes hits both, and
    the best of a few rounds, the least disturbed figure on a shared machine."""
    times: dict[int, list[float]] = {0: [], 1: []}
    for model in (base, candidate):
        model.run(batch)
    for _ in range(_ROUNDS):
        for index, model in enumerate((base, candidate)):
            start = time.perf_counter()
            model.run(batch)
            times[index].append(time.perf_counter() - start)
    return round(min(times[0]) / min(times[1]), 2)


def _read_record(path: Path) -> dict[str, Any] | None:
    record = read_record(path)
    valid = record is not None and isinstance(record.get("recipe"), str)
    if not valid or record.get("onnxruntime") != ort.__version__:
        return None
    recipe = record["recipe"]
    if recipe not in ("fp32", BF16) and int8_recipe(recipe) is None:
        return None
    if recipe == BF16 or recipe.endswith(ON_OPENVINO):
        return record if openvino_engine.available() else None
    return record
