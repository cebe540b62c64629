"""Fetch a release file over HTTP(S) with the standard library: no new dependency, and a
failure (no network, 404, a cut connection) is one line naming the URL."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

from imagexform.errors import UserError

CHUNK = 1 << 20


def download(url: str, progress: Callable[[int, int], None] | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "imagexform"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            expected = int(response.headers.get("Content-Length") or 0)
            chunks, done = [], 0
            while chunk := response.read(CHUNK):
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, expected)
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"{url}: download failed ({reason})") from None
    data = b"".join(chunks)
    if expected and len(data) != expected:
        raise UserError(f"{url}: the connection ended after {len(data)} of {expected} bytes")
    return data
