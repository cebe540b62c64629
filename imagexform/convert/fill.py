"""Fill a template's emptied initializers with a checkpoint's tensors and write the model.

Pure protobuf work with the ``onnx`` package: no tracing, no torch, so a 64 MB RRDBNet
converts in the time it takes to read and write 64 MB. The shapes were checked when the
template was matched; here each tensor is cast to the initializer's type (a half-precision
or bfloat16 file becomes float32, as the torch importers load it) and laid out as the
initializer's dimensions say (the exporter may have reshaped a bias). The file appears at
its destination complete or not at all.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import imagexform
from imagexform.convert.templates import Template
from imagexform.errors import UserError
from imagexform.modelinfo import METADATA_KEY, ModelInfo


def _filled_model(template: Template, state: Mapping[str, Any]) -> Any:
    import onnx
    from onnx.helper import tensor_dtype_to_np_dtype

    model = onnx.load(str(template.path))
    for initializer in model.graph.initializer:
        key = template.initializers.get(initializer.name)
        if key is None:
            continue  # a constant of the graph itself (a shape, a scale), kept as it is
        dtype = np.dtype(tensor_dtype_to_np_dtype(initializer.data_type)).newbyteorder("<")
        array = np.asarray(state[key]).astype(dtype).reshape(tuple(initializer.dims))
        initializer.raw_data = np.ascontiguousarray(array).tobytes()
    return model


def write_filled(
    template: Template, state: Mapping[str, Any], info: ModelInfo, destination: Path
) -> int:
    """Write ``template`` filled from ``state`` with metadata ``info`` to ``destination``
    (a temporary name in its folder first, then renamed); return the file's size."""
    model = _filled_model(template, state)
    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_KEY, value=info.to_json())
    model.producer_version = imagexform.__version__
    model.doc_string = "\n".join(part for part in (info.title, info.description) if part)
    temporary = destination.with_name(
        f".{destination.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    try:
        with open(temporary, "wb") as out:
            out.write(model.SerializeToString())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, destination)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"{destination}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination.stat().st_size
