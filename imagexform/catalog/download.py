"""Fetch a release file over HTTPS with the standard library, into a ``.part`` file that a
later attempt resumes (HTTP Range) instead of starting over: a 64 MB checkpoint on a flaky
connection gets there eventually. Failures are one line naming the URL or the file."""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NoReturn

from imagexform.errors import UserError

CHUNK = 1 << 16  # a read returns at most this, or what has arrived: Cancel is never far off
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # plain http only to this machine (tests, mirrors)
Progress = Callable[[int, int], None]  # bytes done, bytes expected (0 when unknown)


def check_url(url: str, loopback_http: bool = True) -> None:
    """Refuse anything but HTTPS: a checkpoint fetched in the clear could be swapped. Plain
    http to this machine is allowed (tests, mirrors) unless ``loopback_http`` is false."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "https" or (
        loopback_http and parsed.scheme == "http" and parsed.hostname in LOOPBACK
    ):
        return
    raise UserError(f"{url}: only https:// downloads are allowed")


def _is_loopback_http(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme == "http" and parsed.hostname in LOOPBACK


class _HttpsRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to HTTPS, or to loopback http from loopback http: an https
    release must not be handed to a local plain-http listener."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, loopback_http=_is_loopback_http(req.full_url))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_HttpsRedirects)


@contextmanager
def exclusive(lock: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold ``lock`` while this process fetches ``what``. Two writers on one ``.part`` (the
    editor and a terminal, say) would interleave their bytes, and a first download would then
    pin the hash of garbage; the second one is refused instead (or, with ``wait``, waits: for
    short writes such as the pins file). The operating system drops the lock when a process
    dies, so a crash never leaves a stale one."""
    with _locked(lock, what, wait):
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # Windows keeps an open file; it is harmless
                lock.unlink()  # while still locked, so nobody locks the file being dropped


def _locked(lock: Path, what: str, wait: bool) -> BinaryIO:
    """An open, locked handle on ``lock``. Locking a file that the previous holder dropped
    between our open and our lock is tried once more, on the new file, before saying busy
    (and again and again with ``wait``, which never says busy)."""
    retried = False
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            handle = lock.open("a+b")
        except OSError as exc:
            raise UserError(
                f"{lock}: cannot write the lock for {what} ({exc.strerror or exc})"
            ) from None
        state = _try_lock(handle, lock, wait)
        if state is True:
            return handle
        handle.close()
        if state is False or (retried and not wait):
            break
        retried = True
    raise UserError(
        f"{what}: another imagexform process is fetching it right now ({lock}); "
        "try again when it is done"
    )


def _try_lock(handle: BinaryIO, lock: Path, wait: bool) -> bool | None:
    """True when locked, False when another process holds it, None when the file we locked
    is no longer ``lock`` (its holder dropped it meanwhile)."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(lock)) or None
    except FileNotFoundError:
        return None


def download(url: str, part: Path, progress: Progress | None = None) -> Path:
    """Complete ``part`` with the file at ``url`` and return it.

    An existing ``part`` is resumed when the server honours the Range request, restarted when
    it does not. ``progress`` may raise to stop (the ``.part`` stays for next time); a write
    error removes the ``.part``, since a full disk is not fixed by resuming.
    """
    check_url(url)
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "imagexform"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = _opener.open(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return _complete_or_dropped(url, part, have, exc.headers.get("Content-Range", ""))
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"{url}: download failed ({getattr(exc, 'reason', exc)})") from None
    with response:
        resumed = have > 0 and response.status == 206
        if resumed and not _starts_at(response.headers.get("Content-Range", ""), have):
            part.unlink(missing_ok=True)
            raise UserError(
                f"{url}: the server resumed at the wrong place (Content-Range "
                f"{response.headers.get('Content-Range')!r} for bytes={have}-); deleted "
                f"{part}, run the same command again to download from the start"
            )
        length = int(response.headers.get("Content-Length") or 0)
        done = have if resumed else 0
        expected = done + length if length else 0
        out = _open_part(part, "ab" if resumed else "wb")
        try:
            while chunk := _read(response, url, done, expected):
                _write(out, part, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, expected)
        finally:
            _close(out, part)  # also when progress raised: what arrived is kept for resuming
    if expected and done != expected:
        raise UserError(
            f"{url}: the connection ended after {done} of {expected} bytes; run the same "
            "command again to resume"
        )
    return part


def _complete_or_dropped(url: str, part: Path, have: int, content_range: str) -> Path:
    """A 416 answer to ``bytes=HAVE-`` means the part is complete only if the server's
    ``Content-Range: bytes */TOTAL`` is what we have; a longer or changed file is not."""
    unit, _, total = content_range.partition(" ")
    if unit == "bytes" and total.strip() == f"*/{have}":
        return part
    part.unlink(missing_ok=True)
    raise UserError(
        f"{url}: the server refused to resume at byte {have} (Content-Range "
        f"{content_range!r}); deleted {part}, run the same command again to download from "
        "the start"
    )


def _starts_at(content_range: str, offset: int) -> bool:
    """Whether a 206 answer's ``Content-Range: bytes START-END/TOTAL`` continues at ``offset``."""
    unit, _, span = content_range.partition(" ")
    return unit == "bytes" and span.split("-", 1)[0].strip() == str(offset)


def _open_part(part: Path, mode: str) -> BinaryIO:
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
        return part.open(mode)
    except OSError as exc:
        raise UserError(f"{part}: cannot write the download ({exc.strerror or exc})") from None


def _read(response: object, url: str, done: int, expected: int) -> bytes:
    try:
        return response.read1(CHUNK)  # type: ignore[attr-defined]
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        of = f" of {expected}" if expected else ""
        raise UserError(
            f"{url}: the connection broke after {done}{of} bytes ({exc}); run the same "
            "command again to resume"
        ) from None


def _write(out: BinaryIO, part: Path, chunk: bytes) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        _discard(out, part, exc)


def _close(out: BinaryIO, part: Path) -> None:
    """Close ``out``; its last buffered bytes can still meet a full disk here."""
    try:
        out.close()
    except OSError as exc:
        _discard(out, part, exc)


def _discard(out: BinaryIO, part: Path, exc: OSError) -> NoReturn:
    """A write failed (full disk, quota): drop the ``.part``, since resuming will not fix it."""
    with contextlib.suppress(OSError):
        out.close()
    part.unlink(missing_ok=True)
    raise UserError(
        f"{part}: cannot write the download ({exc.strerror or exc}); nothing was kept"
    ) from None
