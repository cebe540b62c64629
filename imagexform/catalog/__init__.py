"""Published models by name: ``imagexform models get realesrgan-x4plus``.

Each entry in ``catalog.toml`` names the official release file of a checkpoint one of our
importers understands. Fetching downloads it once (atomically, verified against its pinned
size and sha256), converts it through the normal import path, and caches the ONNX file, so
the second request costs nothing. Listing is torch-free; converting needs the train extra.
"""

from imagexform.catalog.store import Entry, entries, fetch, find, model_folder, onnx_path

__all__ = ["Entry", "entries", "fetch", "find", "model_folder", "onnx_path"]
