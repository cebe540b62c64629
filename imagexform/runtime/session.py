"""Opening an ONNX file with ONNX Runtime: execution provider and session options (what the
file says about itself is read by :mod:`imagexform.runtime.modelfile`, without a session).

ONNX Runtime reports problems as exceptions of its own types with multi-line, prefixed texts;
this module turns the ones a user can act on (not an ONNX file, no CUDA, out of memory) into
one-line :class:`UserError`\\ s that name the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from imagexform.errors import UserError
from imagexform.io.images import display_path

DEVICES = ("auto", "cpu", "cuda", "openvino")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# What an OpenVINO engine session reports as its provider (imagexform.runtime.openvino_engine).
OPENVINO = "OpenVINO CPU"
# Providers that run in host memory, where tiles are sized from free RAM.
ON_HOST = (CPU, OPENVINO)

# Every exception type the ONNX Runtime bindings raise; none derives from a common base.
ORT_ERRORS: tuple[type[Exception], ...] = tuple(
    value
    for value in vars(ort_errors).values()
    if isinstance(value, type) and issubclass(value, Exception)
)

# ORT's CPU arena says "Failed to allocate memory for requested buffer of size N"; a failing
# operator new surfaces as "bad_alloc"/"bad allocation"; the CUDA allocator says "out of memory".
_OUT_OF_MEMORY = ("failed to allocate memory", "bad_alloc", "bad allocation", "out of memory")
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_LOAD_PREFIX = re.compile(r"^Load model from .*? failed:")

# Severity 4 (fatal only): ORT would otherwise print a red error line for a failure that we
# catch and handle (an out-of-memory retry) or re-raise with the same text anyway.
_QUIET = 4
_ERRORS = 3


class OutOfMemoryError(UserError):
    """ONNX Runtime could not allocate memory for a run; smaller tiles may still fit."""


def ort_message(exc: BaseException) -> str:
    """The useful part of an ONNX Runtime error text, on one line."""
    text = _LOAD_PREFIX.sub("", _ORT_PREFIX.sub("", str(exc).strip()))
    return " ".join(text.split())


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, ORT_ERRORS) and any(
        marker in str(exc).lower() for marker in _OUT_OF_MEMORY
    )


def session_options(
    threads: int, log_level: int = _QUIET, *, flush_denormals: bool = False
) -> ort.SessionOptions:
    """Options chosen by measurement on the 2-core development machine (see
    ``benchmarks/runtime_precision.py``): full graph optimisation (NCHWc kernels) ran RRDBNet
    1.6× faster than the basic or extended level; worker threads that spin while waiting made
    runs 15-25% slower whenever other processes competed for the cores, so they sleep. The
    memory pattern (on by default) plans one block per input shape on top of what the arena
    already holds from the first run, doubling peak memory from the second tile on (RRDBNet
    ×4 on 432² tiles: 4.2 instead of 2.2 GiB) for no measurable speed; the arena itself stays,
    since without it RRDBNet ran 20% slower. Flushing denormals to zero is decided per model
    by measurement (:mod:`imagexform.runtime.tuning`)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_mem_pattern = False
    options.log_severity_level = log_level
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    if flush_denormals:
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    return options


def create_session(
    path: Path, device: str, threads: int, *, flush_denormals: bool = False
) -> ort.InferenceSession:
    """A session on the provider ``device`` asks for; ``auto`` prefers CUDA when it works,
    ``openvino`` is the OpenVINO engine (:mod:`imagexform.runtime.openvino_engine`), which
    offers the calls of a session that the runtime makes.

    ``flush_denormals`` is only safe after a session without it exists in the process: ONNX
    Runtime applies the *first* session's setting to the creating thread for good (numpy on
    that thread included), so the flag then reaches only the session's own worker threads.
    :func:`imagexform.runtime.load_model` always opens the plain session first.

    onnxruntime-gpu lists CUDA as available even on a machine without a GPU or CUDA libraries
    and then silently runs on the CPU, so only the providers of a created session tell.
    """
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if threads < 0:
        raise UserError(f"threads must be 0 (onnxruntime's default) or more, not {threads}")
    name = display_path(path)
    if device == "openvino":
        from imagexform.runtime.openvino_engine import OpenVINOSession

        _require_file(path)
        return OpenVINOSession(path, threads)  # type: ignore[return-value]
    if device == "cpu":
        return _open(path, [CPU], session_options(threads, flush_denormals=flush_denormals))
    if CUDA not in ort.get_available_providers():
        if device == "cuda":
            raise UserError(
                f"{name}: CUDA was requested but onnxruntime {ort.__version__} has no CUDA "
                f"support (providers: {', '.join(ort.get_available_providers())}); install "
                "onnxruntime-gpu (the imagexform[gpu] extra) or use device 'cpu'"
            )
        return _open(path, [CPU], session_options(threads))
    level = _ERRORS if device == "cuda" else _QUIET
    session = _open(path, [CUDA, CPU], session_options(threads, level))
    if device == "cuda" and session.get_providers()[0] != CUDA:
        raise UserError(
            f"{name}: CUDA was requested but onnxruntime-gpu {ort.__version__} could not start "
            "it (no GPU, or CUDA/cuDNN libraries missing: see the onnxruntime log above); "
            "use device 'cpu'"
        )
    return session


def _require_file(path: Path) -> None:
    if not path.is_file():
        kind = "is a folder" if path.is_dir() else "file not found"
        raise UserError(f"{display_path(path)}: {kind}")


def _open(path: Path, providers: list[str], options: ort.SessionOptions) -> ort.InferenceSession:
    name = display_path(path)
    _require_file(path)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except ort_errors.InvalidProtobuf:
        raise UserError(f"{name}: not an ONNX model (the file does not parse)") from None
    except ORT_ERRORS as exc:
        raise UserError(f"{name}: onnxruntime cannot load the model ({ort_message(exc)})") from None
