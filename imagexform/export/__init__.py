"""Torch -> ONNX export: the step that turns a trained or imported network into the one-file
contract the inference side runs.

Modules, one job each:

- :mod:`~imagexform.export.onnx_export`: any module -> single-file ONNX with dynamic
  batch/height/width and imagexform metadata, written only after it matches torch;
- :mod:`~imagexform.export.parity`: the onnxruntime-vs-torch comparison that gates the write;
- :mod:`~imagexform.export.sources`: where the module comes from (a checkpoint, or a foreign
  file recognised by a plugin's importer) and the provenance recorded for it.

The ``export`` and ``import`` commands are in :mod:`imagexform.commands.export`; reading a
written file back is :mod:`imagexform.runtime.modelfile`, on the inference side. This
package's own import stays torch-free; the exporting functions are resolved on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ExportError": "imagexform.export.errors",
    "ExportReport": "imagexform.export.onnx_export",
    "ParityResult": "imagexform.export.parity",
    "export_onnx": "imagexform.export.onnx_export",
    "export_checkpoint": "imagexform.export.sources",
    "import_foreign": "imagexform.export.sources",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
