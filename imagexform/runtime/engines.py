"""Which engine runs a model on the CPU when the user leaves the choice to us (``--device
auto``): OpenVINO where it is installed, gives the same output and is measurably faster for
this model on this machine (and the model is not so small that the difference is noise), else
ONNX Runtime. Measured once on a probe image and cached per
model file and machine, like the session settings (:mod:`imagexform.runtime.tuning`).

Measured with ``benchmarks/runtime_engines.py`` on the 2-core development CPU (OpenVINO
2026.4, ONNX Runtime 1.32, median of 5), OpenVINO f32 against ONNX Runtime fp32: the shipped ×4
upscaler at 128² 1.17×, a junyanz ResNet-9 generator at 256² 2.49×, TransformerNet 1.11×, but
a junyanz U-Net-128 (9 ms a run) 0.55×: no engine wins everywhere, hence a measurement per
model. Its larger gain in bf16 on AMX (2.27×, 3.84×, 1.95× on those) belongs to
``--precision fast``, which judges the quality too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.runtime import openvino_engine
from imagexform.runtime.tuning import UNCHANGED, cached, compare, probe

if TYPE_CHECKING:
    from imagexform.runtime.model import RuntimeModel

ONNXRUNTIME = "onnxruntime"
OPENVINO = "openvino"
# Timing noise between two equal sessions on the shared 2-core machine reached ±10%.
MIN_SPEEDUP = 1.1
# Below this per probe run the gain is milliseconds and within noise; such models stay on ONNX
# Runtime, so that the same small network saved twice never lands on two engines whose
# outputs differ in the last bits.
MIN_SECONDS = 0.02


@dataclass(frozen=True)
class EngineChoice:
    """The measured verdict for one model on one machine."""

    engine: str
    max_difference: float  # OpenVINO against ONNX Runtime output, in output value ranges
    speedup: float  # ONNX Runtime time over OpenVINO time on the probe
    seconds: float  # ONNX Runtime's fastest probe run


def on_openvino(
    model: RuntimeModel, threads: int, precision: str = "f32", path: Path | None = None
) -> RuntimeModel:
    """A copy of ``model`` that runs on OpenVINO at ``precision``; the graph in ``path`` (an
    int8 copy of the model) when given, else the model's own."""
    moved = copy.copy(model)
    moved.session = openvino_engine.OpenVINOSession(path or model.path, threads, precision)
    moved.session_tuning = None
    return moved


def choose(model: RuntimeModel, threads: int) -> RuntimeModel:
    """``model`` (on ONNX Runtime's CPU provider) on the engine measured best for it; the
    verdict is in ``engine_choice`` either way. Without OpenVINO installed, ``model``."""
    if not openvino_engine.available():
        return model
    verdict = cached(EngineChoice, "engine", model, lambda: measure(model, threads))
    model.engine_choice = verdict
    if verdict.engine != OPENVINO:
        return model
    chosen = on_openvino(model, threads)
    chosen.engine_choice = verdict
    return chosen


def measure(model: RuntimeModel, threads: int) -> EngineChoice:
    """Run the probe through ONNX Runtime and OpenVINO f32, interleaved."""
    difference, speedup, seconds = compare(model, on_openvino(model, threads), probe(model))
    faster = difference <= UNCHANGED and speedup >= MIN_SPEEDUP and seconds >= MIN_SECONDS
    return EngineChoice(OPENVINO if faster else ONNXRUNTIME, difference, speedup, seconds)


def chosen_candidate(model: RuntimeModel) -> dict | None:
    """The measured speed-up and PSNR of the reduced precision ``model`` runs at, if any."""
    report = model.precision_report or {}
    for candidate in report.get("candidates", ()):  # type: ignore[attr-defined]
        if candidate.get("recipe") == model.precision:
            return dict(candidate)
    return None


def engine_text(model: RuntimeModel) -> str:
    """What runs ``model``, for summaries: provider, precision and, for a reduced precision,
    its measured speed-up over fp32 and worst PSNR on the calibration photos."""
    text = f"{model.provider}, {model.precision}"
    chosen = chosen_candidate(model)
    if chosen is not None:
        text += f" ({chosen['speedup']:g}× fp32 at {chosen['psnr_db']:g} dB)"
    return text
