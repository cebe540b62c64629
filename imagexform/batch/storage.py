"""Input and output locations given as URLs (``s3://``, ``gs://``, ``az://``, ``file://``).

fsspec (with s3fs, gcsfs or adlfs from the ``cloud`` extra) gives one interface to every
object store; credentials come from each store's usual environment and config files, never
from the command line. Object paths inside a location are fsspec paths (``bucket/key``),
kept in :class:`pathlib.Path` so that naming, sharding and the report treat them exactly as
local files; only reading, writing and listing go through the store.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from imagexform.errors import UserError
from imagexform.io.images import TEMP_SUFFIX, ImageReadError, ImageWriteError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(text: str) -> bool:
    """Whether INPUT or OUTPUT names a location in a store rather than a local path."""
    return _URL.match(text) is not None


@dataclass(frozen=True)
class Location:
    """A folder (or key prefix) in a store: where objects are listed, read and written."""

    fs: AbstractFileSystem
    root: str  # the fsspec path of the folder, without the protocol or a trailing slash
    url: str

    @classmethod
    def open(cls, url: str, **storage_options: Any) -> Location:
        """``url``'s store and folder; a missing fsspec backend is a usage error naming the
        extra to install."""
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise UserError(
                f"{url}: URLs need the cloud extra (pip install imagexform[cloud])"
            ) from None
        try:
            fs, root = url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise UserError(f"{url}: cannot open this location ({exc})") from None
        return cls(fs, root.rstrip("/"), url)

    def files(self, recursive: bool) -> list[tuple[Path, PurePosixPath]]:
        """Every object below the folder (only its own level unless ``recursive``), with its
        path relative to the folder; hidden names and our temp objects are left out."""
        self.fs.invalidate_cache()  # a cached listing from an earlier run in this process
        try:
            if recursive:
                found = self.fs.find(self.root)
            else:
                found = [e["name"] for e in self.fs.ls(self.root, detail=True) if _is_file(e)]
        except FileNotFoundError:
            raise UserError(f"{self.url}: no such location") from None
        except OSError as exc:
            raise UserError(f"{self.url}: cannot list ({exc})") from None
        listed = []
        for name in found:
            relative = PurePosixPath(name).relative_to(self.root)
            if not any(part.startswith(".") for part in relative.parts):
                listed.append((Path(name), relative))
        return listed

    def existing(self) -> set[str]:
        """The fsspec paths of every object under the folder: one listing answers whether
        each output exists, instead of one request per file."""
        self.fs.invalidate_cache()
        try:
            return set(self.fs.find(self.root))
        except FileNotFoundError:
            return set()

    def read(self, path: Path) -> bytes:
        """An object's bytes; store errors as the one-line errors a local file gives."""
        try:
            return self.fs.cat_file(path.as_posix())
        except FileNotFoundError:
            raise ImageReadError(path, "object not found") from None
        except OSError as exc:
            raise ImageReadError(path, f"cannot read object ({exc})") from None

    def write(self, path: Path, data: bytes) -> None:
        """Write under a hidden temp key, then move it to its name: no reader (nor a rerun
        deciding what is done) ever sees a partial object under the final name."""
        target = path.as_posix()
        temp = f"{path.parent.as_posix()}/.{path.name[:40]}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            self.fs.pipe_file(temp, data)
            self.fs.mv(temp, target)
        except OSError as exc:
            self._discard(temp)
            raise ImageWriteError(path, f"cannot write object ({exc})") from None

    def url_of(self, path: Path) -> str:
        """The full URL of an object, for messages."""
        return str(self.fs.unstrip_protocol(path.as_posix()))

    def _discard(self, temp: str) -> None:
        try:
            self.fs.rm_file(temp)
        except OSError:
            return


def _is_file(entry: dict[str, Any]) -> bool:
    return entry.get("type") == "file"
