"""Fill a template's emptied initializers with a checkpoint's tensors and write the model.

Pure protobuf work with the ``onnx`` package: no tracing, no torch, so a 64 MB RRDBNet
converts in the time it takes to read and write 64 MB. The shapes were checked when the
template was matched; here each tensor is cast to the initializer's type (a half-precision
or bfloat16 file becomes float32, as the torch importers load it) and laid out as the
initializer's dimensions say (the exporter may have reshaped a bias). The file appears at
its destination complete or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imagexform.convert.templates import Template
from imagexform.io.images import write_bytes_atomic
from imagexform.modelinfo import ModelInfo, describe_model_proto


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
    (complete or not at all); return the file's size."""
    model = _filled_model(template, state)
    describe_model_proto(model, info)
    write_bytes_atomic(destination, model.SerializeToString())
    return destination.stat().st_size
