"""The server's settings, shared by the command, the app and the tests."""

from __future__ import annotations

import os
from dataclasses import dataclass

from imagexform.io import DEFAULT_MAX_PIXELS

DEFAULT_MAX_UPLOAD_MB = 50
# OpenCV refuses to decode more than this many pixels unless told otherwise through an
# environment variable; a server keeps its limit below it instead of raising OpenCV's.
OPENCV_PIXEL_LIMIT = 1 << 30


@dataclass(frozen=True)
class ServeConfig:
    """What the command line sets; ``api_key`` None serves without authentication."""

    workers: int = 2  # model runs at once, each on a thread sharing the model's session
    max_queue: int = 8  # requests admitted beyond ``workers``; more are refused with 503
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20
    api_key: str | None = None
    tile_size: int | None = None  # as batch's --tile: None picks from free memory
    overlap: int | None = None
    upload_seconds: float = 60.0  # a client that takes longer to send its upload gets 408

    @property
    def capacity(self) -> int:
        return self.workers + self.max_queue


def session_threads(threads: int, workers: int) -> int:
    """ONNX Runtime's threads per model run: ``threads`` when given, else the CPU cores shared
    out among the workers. Each run would otherwise start one thread per core, and
    ``workers`` runs at once would oversubscribe the cores; for small networks, single-threaded
    runs side by side beat one multi-threaded run (measured for ONNX Runtime on 2 cores)."""
    return threads or max(1, (os.cpu_count() or 1) // workers)
