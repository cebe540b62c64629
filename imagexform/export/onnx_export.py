"""A torch module -> one self-describing ONNX file that the torch-free runtime can trust.

The file is the contract between the two halves, so it is written only when it is right: a
single ``.onnx`` (no external ``.data`` file to lose), dynamic batch, height and width under
names, the :class:`~imagexform.modelinfo.ModelInfo` JSON in its metadata, an IR version
onnxruntime reads, and outputs that match torch at several sizes. Anything less raises and
leaves no file behind.

Dynamic shapes and torch's dynamo exporter: ``torch.export`` specialises any dimension that
equals 1 while tracing. A U-Net traced at its size multiple (256 for ``unet_256``) has a 1×1
bottleneck, so height and width were fixed at 256; traced at twice the multiple they stay
symbolic. For networks with a size multiple the height and width are declared as derived
dimensions (``Dim("h_blocks") * multiple``), which states the constraint the skip
concatenations need instead of letting the exporter reject a free ``height``; the file then
names them ``"32*h_blocks"``, ``"32*w_blocks"``. Tracing uses a non-square example at batch 2,
so no dimension is 1 and height and width never unify.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.export import Dim
from torch.onnx import ONNXProgram

import imagexform
from imagexform.errors import UserError
from imagexform.export.errors import ExportError
from imagexform.export.parity import (
    ParityResult,
    Size,
    base_edge,
    check_parity,
    default_check_sizes,
    example_inputs,
    input_names,
)
from imagexform.modelinfo import METADATA_KEY, OUTPUT, ModelInfo

OPSET = 18
# Written IR versions must be readable by the onnxruntime the inference side installs; the
# exporter writes 10 today, and a newer onnx default (14) is refused by onnxruntime 1.31.
MAX_IR_VERSION = 10
FP32_TOLERANCE = 1e-4
# fp16 files are compared with the fp32 module, so this bounds half precision's own rounding
# (about 1% of the [-1, 1] range: 2.5 of 255 levels) as well as any export error.
FP16_TOLERANCE = 2e-2
TEMP_SUFFIX = ".tmp"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SUMMARY = "## Exception summary"


@dataclass
class ExportReport:
    """What was written, and the evidence that it reproduces torch."""

    path: Path
    size_bytes: int
    info: ModelInfo
    opset: int
    tolerance: float
    parity: list[ParityResult]
    exporter: str = "dynamo"  # which of torch's exporters wrote the file ("torchscript")
    exporter_failures: tuple[str, ...] = ()  # why the exporters tried before it failed


class FileContract(nn.Module):
    """Adapts a family's module to the file's interface: positional inputs in the order the
    file names them, float32 in and out whatever precision the network computes in, so a
    runtime never has to know how a model was exported."""

    def __init__(self, module: nn.Module, half: bool) -> None:
        super().__init__()
        self.module = module
        self.half = half

    def forward(self, image: Tensor, *conditions: Tensor) -> Tensor:
        if self.half:
            image = image.half()
            conditions = tuple(condition.half() for condition in conditions)
        return self.module(image, *conditions).float()


def check_destination(path: Path) -> Path:
    """Fail before any expensive work when the file could not be written where asked."""
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{path}: folder {folder} does not exist")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file name such as model.onnx")
    return path


def _dynamic_shapes(info: ModelInfo) -> tuple[object, ...]:
    batch = Dim("batch")
    multiple = info.io.size_multiple
    if multiple > 1:
        height, width = Dim("h_blocks") * multiple, Dim("w_blocks") * multiple
    else:
        height, width = Dim("height"), Dim("width")
    image = {0: batch, 2: height, 3: width}
    if not info.io.conditions:
        return (image,)
    # The contract's ``*conditions`` reaches torch.export as one tuple argument.
    return (image, tuple({0: batch} for _ in info.io.conditions))


def first_line(exc: BaseException) -> str:
    """The line of an exporter error that says what went wrong: torch's own messages open with
    generic advice and put the cause under an ``## Exception summary`` heading."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    if _SUMMARY in lines[:-1]:
        return lines[lines.index(_SUMMARY) + 1]
    return lines[0] if lines else type(exc).__name__


def trace_module(
    contract: nn.Module, info: ModelInfo, example_size: tuple[int, int], *, optimize: bool = True
) -> ONNXProgram:
    """The dynamo exporter's program. ``optimize=False`` keeps every weight as the tensor the
    module holds (no batch norm folded into its convolution), which graph templates need: a
    template's initializers are filled with a checkpoint's tensors as they are."""
    size = (2, *example_size)
    inputs = example_inputs(info, size, torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            # A condition's batch axis is the image's own Dim; renaming it twice is what this notes.
            warnings.filterwarnings("ignore", "# The axis name: .* will not be used", UserWarning)
            return torch.onnx.export(
                contract,
                inputs,
                input_names=input_names(info),
                output_names=[OUTPUT],
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                dynamic_shapes=_dynamic_shapes(info),
                optimize=optimize,
                verbose=False,
            )
    except Exception as exc:
        raise ExportError(
            f"{info.title or info.family}: torch.onnx.export failed: {first_line(exc)}"
        ) from exc


def _describe(program: ONNXProgram, info: ModelInfo) -> int:
    """Stamp the metadata into the in-memory model; returns the opset it uses."""
    model = program.model
    model.metadata_props[METADATA_KEY] = info.to_json()
    model.producer_name = "imagexform"
    model.producer_version = imagexform.__version__
    model.doc_string = "\n".join(part for part in (info.title, info.description) if part)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    return int(model.opset_imports.get("", OPSET))


def _write(program: ONNXProgram, temporary: Path, destination: Path) -> None:
    try:
        program.save(temporary, external_data=False)
    except ValueError as exc:  # protobuf refuses messages over 2 GiB
        raise ExportError(
            f"{destination}: the model does not fit one ONNX file ({first_line(exc)})"
        ) from None
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())


def with_receptive_field(path: Path, info: ModelInfo) -> ModelInfo:
    """``info`` with the effective receptive field measured on the written file (see
    :mod:`imagexform.runtime.receptive_field`), so the runtime's tile overlap covers it.
    Networks the runtime does not tile (a discriminator exported alone) keep 0."""
    from imagexform.runtime import load_model
    from imagexform.runtime.receptive_field import measure_receptive_field

    try:
        model = load_model(path, device="cpu")
    except UserError:  # e.g. 6 input channels: the runtime refuses it, so never tiles it
        return info
    if not model.produces_images:
        return info
    reach = measure_receptive_field(model)
    return dataclasses.replace(info, tile=dataclasses.replace(info.tile, receptive_field=reach))


def export_onnx(
    module: nn.Module,
    info: ModelInfo,
    path: Path | str,
    *,
    example_size: tuple[int, int] | None = None,
    check_sizes: Sequence[Size] | None = None,
    fp16: bool = False,
    tolerance: float | None = None,
) -> ExportReport:
    """Export ``module`` (switched to eval mode) and write it to ``path`` only if onnxruntime
    reproduces torch within ``tolerance`` at every size in ``check_sizes``.

    ``example_size`` is the (height, width) traced at; the default is non-square and at least
    twice the size multiple (see the module docstring). ``fp16`` exports a half-precision copy
    with float32 inputs and outputs and compares it with the float32 module; ``tolerance``
    defaults to :data:`FP32_TOLERANCE` or :data:`FP16_TOLERANCE`.
    """
    path = check_destination(Path(path))
    module.eval()
    if fp16:
        info = dataclasses.replace(info, precision="fp16")
        tolerance = FP16_TOLERANCE if tolerance is None else tolerance
    else:
        tolerance = FP32_TOLERANCE if tolerance is None else tolerance
    reference = FileContract(module, half=False).eval()
    exported = FileContract(copy.deepcopy(module).half(), half=True).eval() if fp16 else reference
    base = base_edge(info.io.size_multiple)
    program = trace_module(exported, info, example_size or (2 * base, 3 * base))
    opset = _describe(program, info)

    # Beside the destination, so the rename is atomic; created by the writer, so the file gets
    # the user's usual permissions rather than a private temporary file's.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        _write(program, temporary, path)
        sizes = list(check_sizes or default_check_sizes(info.io.size_multiple))
        parity = check_parity(temporary, reference, info, sizes, tolerance)
        info = with_receptive_field(temporary, info)
        _describe(program, info)
        _write(program, temporary, path)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return ExportReport(
        path=path,
        size_bytes=path.stat().st_size,
        info=info,
        opset=opset,
        tolerance=tolerance,
        parity=parity,
    )
