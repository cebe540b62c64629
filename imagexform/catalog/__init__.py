"""Published models by name: ``imagexform models pull realesrgan-x4plus``.

Each entry in ``catalog.toml`` (plus what plugins add) names the official release file of a
checkpoint one of our importers understands. Fetching downloads it once (resumably, verified
against its pinned size and sha256), converts it through the normal import path, and installs
the ONNX file in the user's model folder, so later runs never touch the network. Listing is
torch-free; converting needs the train extra.
"""

from imagexform.catalog.resolve import local_model, resolve_model
from imagexform.catalog.store import (
    SHIPPED_MODELS,
    Entry,
    entries,
    fetch,
    find,
    model_folder,
    onnx_path,
    remove,
)

__all__ = [
    "SHIPPED_MODELS",
    "Entry",
    "entries",
    "fetch",
    "find",
    "local_model",
    "model_folder",
    "onnx_path",
    "remove",
    "resolve_model",
]
