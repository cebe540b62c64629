"""OpenVINO as a second inference engine, behind the same calls as an ONNX Runtime session.

OpenVINO compiles the ONNX file for this CPU's instruction set (AVX-512, AMX) and, asked for
``bf16``, runs it in bfloat16 on AMX: on the 2-core development CPU an RRDBNet ×4 ran in 2.93 s
f32 and 1.46 s bf16 against ONNX Runtime fp32's 3.17 s. It is an optional extra (``openvino``,
180 MB); :class:`OpenVINOSession` offers what :class:`~imagexform.runtime.RuntimeModel` calls
on a session (``run``, ``get_providers``, ``get_session_options``), so tiling, conditions,
adjustments, progress and cancelling work unchanged above it.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from imagexform.errors import UserError
from imagexform.io.images import display_path
from imagexform.runtime.session import OPENVINO, session_options

HINTS = {"f32": "f32", "bf16": "bf16"}


def available() -> bool:
    """Whether the ``openvino`` package is installed (without importing it: 0.5 s)."""
    return importlib.util.find_spec("openvino") is not None


def openvino() -> Any:
    """The ``openvino`` module, with its usage telemetry switched off first.

    ``openvino_telemetry`` (installed with openvino) reports usage from a background thread
    through ``multiprocessing``, which forks the process; in the editor, a forked PySide6
    process aborted (``none_dealloc`` in shiboken's import hook, SIGABRT) while a model was
    compiled. Blocking the package makes OpenVINO use its own no-op stub, and an image tool
    has no business reporting its users' activity anyway."""
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino as ov

    return ov


@functools.cache
def core() -> Any:
    """The process's one OpenVINO ``Core``, kept for the life of the process.

    OpenVINO 2026.4's CPU plugin installs an alternate signal stack of its own for each
    ``Core`` and puts back the one it found when that ``Core`` goes, which is only right
    last-in-first-out: with a ``Core`` per model, released in the order they were made, the
    stack left installed was freed memory, and the next signal with a Python handler (which
    runs on the alternate stack: Ctrl-C's, torch's SIGCHLD) killed the process with SIGSEGV
    (``tests/test_runtime_openvino.py::test_signals_still_reach_python_after_openvino_ran``).
    One ``Core`` that never goes keeps that memory valid, and loads the plugin once."""
    return openvino().Core()


@functools.cache
def has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports bf16 among its optimisation capabilities (AMX or
    AVX512-BF16 here)."""
    return "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVINOSession:
    """An ONNX file compiled by OpenVINO for the CPU at ``precision`` (``f32`` or ``bf16``).

    Safe to share between threads like an ONNX Runtime session: each thread gets its own
    infer request of the one compiled model."""

    def __init__(self, path: Path, threads: int, precision: str = "f32") -> None:
        if precision not in HINTS:
            raise UserError(f"unknown OpenVINO precision {precision!r}; use f32 or bf16")
        if not available():
            raise UserError(
                f"{display_path(path)}: the OpenVINO engine needs the openvino package; "
                "pip install 'imagexform[openvino]' or use device 'cpu'"
            )
        self.path = path
        self.threads = threads
        self.precision = precision
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self._compiled = core().compile_model(str(path), "CPU", config)
        except RuntimeError as exc:
            raise UserError(
                f"{display_path(path)}: OpenVINO cannot compile the model ({_first_line(exc)})"
            ) from None
        self._local = threading.local()

    def get_providers(self) -> list[str]:
        return [OPENVINO]

    def get_session_options(self) -> ort.SessionOptions:
        """Options for the ONNX Runtime sessions that run helper graphs beside this one."""
        return session_options(self.threads)

    def run(
        self, output_names: Sequence[str] | None, feeds: Mapping[str, np.ndarray]
    ) -> list[np.ndarray]:
        """The named outputs (all when None) for ``feeds``, by graph input name."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        try:
            request.infer(dict(feeds))
        except RuntimeError as exc:
            shape = "×".join(str(n) for n in next(iter(feeds.values())).shape[-1:-3:-1])
            raise UserError(
                f"{display_path(self.path)}: OpenVINO failed on a {shape} input "
                f"({_first_line(exc)})"
            ) from None
        names = output_names or [port.any_name for port in self._compiled.outputs]
        return [np.array(request.get_tensor(name).data, copy=True) for name in names]


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
