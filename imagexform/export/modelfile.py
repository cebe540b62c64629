"""Read what an ONNX file says about itself, without torch and without the ``onnx`` package.

``imagexform models info`` runs on inference-only installs, where onnxruntime is the one ONNX
reader available; its model metadata exposes the ``metadata_props`` export writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagexform.errors import UserError
from imagexform.modelinfo import METADATA_KEY, ModelInfo

Dimension = int | str | None  # fixed size, named dynamic size, or unnamed dynamic size


@dataclass(frozen=True)
class TensorDescription:
    name: str
    shape: tuple[Dimension, ...]
    element_type: str  # as onnxruntime spells it, e.g. "tensor(float)"


@dataclass
class ModelFile:
    """An ONNX file as onnxruntime sees it; ``info`` is None for files imagexform did not
    write, whose raw metadata may still say where they came from."""

    path: Path
    size_bytes: int
    producer: str
    inputs: list[TensorDescription]
    outputs: list[TensorDescription]
    metadata: dict[str, str]
    info: ModelInfo | None


def inspect_model(path: Path | str) -> ModelFile:
    """Load ``path`` with onnxruntime (CPU, no graph optimisation: only the description is
    wanted) and parse its imagexform metadata when present."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # a file that is not ONNX is reported below, once
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not an ONNX model onnxruntime can load ({reason})") from None
    meta = session.get_modelmeta()
    metadata = dict(meta.custom_metadata_map)
    raw = metadata.get(METADATA_KEY)
    return ModelFile(
        path=path,
        size_bytes=path.stat().st_size,
        producer=meta.producer_name,
        inputs=[_describe(arg) for arg in session.get_inputs()],
        outputs=[_describe(arg) for arg in session.get_outputs()],
        metadata=metadata,
        info=None if raw is None else ModelInfo.from_json(raw, source=str(path)),
    )


def _describe(arg: object) -> TensorDescription:
    return TensorDescription(name=arg.name, shape=tuple(arg.shape), element_type=arg.type)


def read_model_info(path: Path | str) -> ModelInfo:
    """The :class:`ModelInfo` of a file imagexform exported; a :class:`UserError` naming the
    file when it is not ONNX or carries no imagexform metadata."""
    model = inspect_model(path)
    if model.info is None:
        raise UserError(
            f"{model.path}: has no imagexform metadata (no {METADATA_KEY!r} entry in "
            "metadata_props); it was not exported by imagexform"
        )
    return model.info
