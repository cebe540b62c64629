"""Where a video's finished segments wait until they are joined: a hidden folder beside the
output, named after it, so a killed run's work is found again by the rerun and by nothing
else (discovery skips hidden folders).

A segment counts only when its file exists (segments appear by rename once complete), and
only for the job that wrote it: the folder holds the job's key (input file, model, settings),
and a folder with another key is cleared rather than reused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from imagexform.io.images import is_temp_name

_MANIFEST = "job.json"


class SegmentFolder:
    def __init__(self, target: Path) -> None:
        self.target = target
        self.folder = target.parent / f".{target.name}.parts"

    def resume(self, key: str) -> int:
        """Complete segments a killed run of the job ``key`` left (0 for a new job), with
        anything else in the folder (another job's segments, temp files) cleared."""
        manifest = self.folder / _MANIFEST
        try:
            same = json.loads(manifest.read_text())["key"] == key
        except (OSError, ValueError, KeyError, TypeError):
            same = False
        if not same:
            self.remove()
            self.folder.mkdir(parents=True)
            manifest.write_text(json.dumps({"key": key}))
            return 0
        for entry in os.scandir(self.folder):
            if is_temp_name(entry.name):
                os.unlink(entry.path)
        return len(self.complete())

    def path(self, index: int) -> Path:
        """Segment ``index``'s file, in the output's container."""
        return self.folder / f"{index:05d}{self.target.suffix}"

    def complete(self) -> list[Path]:
        """The complete segments from the first, in order."""
        found = []
        while self.path(len(found)).exists():
            found.append(self.path(len(found)))
        return found

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
