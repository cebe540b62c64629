"""Export an imported network with whichever of torch's two ONNX exporters manages it.

Foreign architectures (spandrel's 40-odd) meet torch's exporters in every state: the dynamo
exporter writes clean graphs with symbolic sizes but, with torch 2.14, segfaults in "Run
decompositions" on SPAN; the TorchScript exporter (``dynamo=False``) traces almost anything
but bakes Python-side branches. So neither is trusted alone and neither is given up on after
one failure: dynamo runs first, in a child process, so that a crash costs the attempt and not
the CLI; the TorchScript exporter follows in-process. Every file either writes passes the
same parity gate (onnxruntime against torch at two sizes besides the traced one) before it is
renamed into place, and the report and the model's provenance name the exporter that wrote it.

The child cannot be handed the module (that would mean unpickling code), so it rebuilds the
network the same way the parent did: it re-imports the same file through the same importer.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from imagexform.errors import UserError
from imagexform.export.errors import ExportError
from imagexform.export.onnx_export import (
    FP16_TOLERANCE,
    FP32_TOLERANCE,
    MAX_IR_VERSION,
    TEMP_SUFFIX,
    ExportReport,
    FileContract,
    check_destination,
    first_line,
    trace_module,
    with_receptive_field,
)
from imagexform.export.parity import (
    ParityResult,
    base_edge,
    check_parity,
    default_check_sizes,
    example_inputs,
    input_names,
)
from imagexform.modelinfo import OUTPUT, ModelInfo, describe_model_proto

EXPORTERS = ("dynamo", "torchscript")
# The dynamo exporter without its graph optimiser: every initializer is a tensor of the
# module as it is, so a weightless template of the graph can be filled from a checkpoint
# (imagexform.export.templates). onnxruntime fuses the same patterns when it loads the file.
TEMPLATE_EXPORTER = "dynamo-unfolded"
_DYNAMO = ("dynamo", TEMPLATE_EXPORTER)
TORCHSCRIPT_OPSET = 17  # the legacy exporter's best-tested opset; onnxruntime reads it
DYNAMO_TIMEOUT_S = 900


@dataclass(frozen=True)
class Rebuild:
    """How a child process rebuilds the parent's network: the same file, importer and
    ``--set`` values, so it loads bit-identical weights into the same architecture."""

    path: str
    importer: str
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)
    family: str | None = None  # the family that adopts what the importer read


def _example_size(info: ModelInfo) -> tuple[int, int]:
    base = base_edge(info.io.size_multiple)
    return 2 * base, 3 * base


def _contract(module: nn.Module, fp16: bool) -> nn.Module:
    module = module.eval()
    if not fp16:
        return FileContract(module, half=False).eval()
    import copy

    return FileContract(copy.deepcopy(module).half(), half=True).eval()


def _torchscript(module: nn.Module, info: ModelInfo, destination: Path, fp16: bool) -> None:
    """The legacy exporter, with height and width dynamic under names and the batch fixed at
    one (see :func:`check_sizes`)."""
    names = input_names(info)
    inputs = example_inputs(info, (1, *_example_size(info)), torch.Generator().manual_seed(0))
    axes: dict[str, dict[int, str]] = {names[0]: {2: "height", 3: "width"}}
    axes[OUTPUT] = {2: "out_height", 3: "out_width"}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _contract(module, fp16),
                inputs,
                str(destination),
                input_names=names,
                output_names=[OUTPUT],
                opset_version=TORCHSCRIPT_OPSET,
                dynamo=False,
                dynamic_axes=axes,
            )
    except Exception as exc:
        raise ExportError(first_line(exc)) from None


def _dynamo_in_child(
    rebuild: Rebuild, info: ModelInfo, destination: Path, fp16: bool, optimize: bool
) -> None:
    request = {
        "rebuild": dataclasses.asdict(rebuild),
        "info": info.to_json(),
        "destination": str(destination),
        "fp16": fp16,
        "optimize": optimize,
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "imagexform.export.exporters", json.dumps(request)],
            capture_output=True,
            text=True,
            env=env,
            timeout=DYNAMO_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ExportError(f"did not finish in {DYNAMO_TIMEOUT_S} s") from None
    if done.returncode < 0:
        raise ExportError(f"crashed ({signal.Signals(-done.returncode).name})")
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ExportError(lines[-1] if lines else f"exited with status {done.returncode}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def check_sizes(exporter: str, multiple: int) -> list[tuple[int, int, int]]:
    """The parity check's sizes. The TorchScript exporter turns ``int(tensor)`` into a
    constant, and the Swin family computes the batch that way when it reassembles windows, so
    a graph traced at batch 2 silently mixes images at batch 1; its files take one image (the
    runtime runs one tile at a time) and are checked at batch 1."""
    sizes = default_check_sizes(multiple)
    if exporter == "torchscript":
        return [(1, height, width) for _, height, width in sizes]
    return sizes


def _dynamo_here(
    module: nn.Module, info: ModelInfo, destination: Path, fp16: bool, optimize: bool
) -> None:
    program = trace_module(_contract(module, fp16), info, _example_size(info), optimize=optimize)
    program.save(str(destination), external_data=False)


def _stamp(raw: Path, info: ModelInfo) -> int:
    """Write the metadata into the exported file, cap its IR version at what onnxruntime
    reads, and return its opset."""
    import onnx

    model = onnx.load(str(raw))
    describe_model_proto(model, info)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    onnx.save(model, str(raw))
    with open(raw, "rb") as handle:
        os.fsync(handle.fileno())
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


@dataclass
class _Attempt:
    """One exporter's file, verified and ready to be renamed into place."""

    temporary: Path
    info: ModelInfo
    opset: int
    parity: list[ParityResult]


def _attempt(
    exporter: str,
    module: nn.Module,
    info: ModelInfo,
    path: Path,
    rebuild: Rebuild | None,
    *,
    fp16: bool,
    tolerance: float,
) -> _Attempt:
    info = dataclasses.replace(info, provenance={**info.provenance, "exporter": exporter})
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        optimize = exporter != TEMPLATE_EXPORTER
        if exporter in _DYNAMO and rebuild is not None:
            _dynamo_in_child(rebuild, info, temporary, fp16, optimize)
        elif exporter in _DYNAMO:
            _dynamo_here(module, info, temporary, fp16, optimize)
        else:
            _torchscript(module, info, temporary, fp16)
        opset = _stamp(temporary, info)
        reference = FileContract(module.eval(), half=False).eval()
        sizes = check_sizes(exporter, info.io.size_multiple)
        parity = check_parity(temporary, reference, info, sizes, tolerance)
        info = with_receptive_field(temporary, info)
        _stamp(temporary, info)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return _Attempt(temporary, info, opset, parity)


def export_with_fallback(
    module: nn.Module,
    info: ModelInfo,
    path: Path | str,
    source: Path,
    rebuild: Rebuild | None = None,
    *,
    exporters: Sequence[str] = EXPORTERS,
    fp16: bool = False,
    tolerance: float | None = None,
) -> ExportReport:
    """Write ``module`` to ``path`` with the first of ``exporters`` whose file passes the
    parity check; when every one fails, raise one line per exporter, each naming ``source``
    (the file the network came from), and write nothing.

    With ``rebuild`` the dynamo exporter runs in a child process that rebuilds the network
    that way (code we do not maintain, which may crash it); without, in this process."""
    path = check_destination(Path(path))
    if fp16:
        info = dataclasses.replace(info, precision="fp16")
    tolerance = tolerance if tolerance is not None else FP16_TOLERANCE if fp16 else FP32_TOLERANCE
    failures = []
    for exporter in exporters:
        try:
            done = _attempt(
                exporter,
                module,
                info,
                path,
                rebuild,
                fp16=fp16,
                tolerance=tolerance,
            )
        except ExportError as exc:
            failures.append(f"{source}: {exporter} exporter failed: {_one_line(exc)}")
            continue
        os.replace(done.temporary, path)
        return ExportReport(
            path,
            path.stat().st_size,
            done.info,
            done.opset,
            tolerance,
            done.parity,
            exporter,
            tuple(failures),
        )
    raise ExportError("\n".join(failures))


def _child(request: Mapping[str, object]) -> None:
    """The dynamo attempt, in a process of its own: rebuild, trace, save without metadata."""
    from imagexform.export.importing import rebuild_module

    info = ModelInfo.from_json(str(request["info"]))
    module = rebuild_module(Rebuild(**request["rebuild"]))  # type: ignore[arg-type]
    contract = _contract(module, bool(request["fp16"]))
    program = trace_module(contract, info, _example_size(info), optimize=bool(request["optimize"]))
    program.save(str(request["destination"]), external_data=False)


if __name__ == "__main__":
    try:
        _child(json.loads(sys.argv[1]))
    except (UserError, ExportError) as error:
        print(str(error).splitlines()[0], file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        print(f"{type(error).__name__}: {first_line(error)}", file=sys.stderr)
        sys.exit(1)
