"""A local HTTP server of release files for the catalog tests: real downloads, no internet.

The files are tiny real checkpoints saved with torch: a pix2pix ResNet generator (``/g.pth``)
and a zip holding a fast-style network (``/styles.zip``, member ``candy.pth``).
"""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch

from imagexform.nn import ResnetGenerator
from imagexform_style.networks import TransformerNet


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class Files(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` and honours ``Range: bytes=N-`` (416 past the end, as GitHub does)
    unless ``ignore_range`` is set (or from ``range_start`` whatever was asked, like a broken
    proxy, while that is set); ``redirects`` maps a path to a ``Location``. While
    ``drop_after`` is set, the connection is cut after that many bytes of the body (a flaky
    network); while ``pause`` is set, the body stops after ``pause_after`` bytes until the
    event is set (a slow one)."""

    files: ClassVar[dict[str, bytes]] = {}
    redirects: ClassVar[dict[str, str]] = {}
    requests: ClassVar[list[str]] = []
    ranges: ClassVar[list[str]] = []
    ignore_range: ClassVar[bool] = False
    range_start: ClassVar[int | None] = None
    drop_after: ClassVar[int | None] = None
    pause: ClassVar[threading.Event | None] = None
    pause_after: ClassVar[int] = 0

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        asked = None if self.ignore_range else self.headers.get("Range")
        if asked:
            self.ranges.append(asked)
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            start = start if self.range_start is None else self.range_start
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        end = len(body) if self.drop_after is None else start + self.drop_after
        if self.pause is not None:
            middle = start + self.pause_after
            self.wfile.write(body[start:middle])
            self.wfile.flush()
            self.pause.wait(timeout=30)
            start = middle
        self.wfile.write(body[start:end])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve_files() -> Iterator[str]:
    """Serve :class:`Files` (reset to the two checkpoints) and yield the base URL."""
    generator = saved(ResnetGenerator(3, 3, ngf=4, norm="instance", n_blocks=6).state_dict())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("saved_models/candy.pth", saved(TransformerNet(4).state_dict()))
        zf.writestr("saved_models/readme.txt", "four models")
    Files.files = {"/g.pth": generator, "/styles.zip": archive.getvalue()}
    Files.redirects, Files.requests, Files.ranges = {}, [], []
    Files.ignore_range, Files.range_start, Files.drop_after, Files.pause = False, None, None, None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
