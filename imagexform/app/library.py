"""Which models the editor offers: the user's model folder, the shipped ones, files the user
added, and catalog entries not downloaded yet.

Listing only looks at file names; a model's metadata is read when it is selected (and then
cached), so a folder of large models opens instantly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagexform.catalog import SHIPPED_MODELS, Entry, entries, model_folder, onnx_path
from imagexform.errors import UserError
from imagexform.runtime.modelfile import ModelFile, inspect_model

CLASSIFIER = "classifier"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    origin: str  # "yours", "shipped", "added" or "catalog"
    path: Path | None = None  # None for a catalog entry not downloaded yet
    catalog: Entry | None = None


class ModelLibrary:
    def __init__(self, added: list[Path] | None = None, shipped: Path = SHIPPED_MODELS) -> None:
        self.added = list(added or [])
        self.shipped = shipped
        self._described: dict[tuple[Path, float], ModelFile] = {}

    def entries(self) -> list[ModelEntry]:
        found: list[ModelEntry] = []
        seen: set[Path] = set()

        def add(path: Path, origin: str) -> None:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(ModelEntry(path.stem, origin, path))

        for origin, folder in (("yours", model_folder()), ("shipped", self.shipped)):
            if folder.is_dir():
                for path in sorted(folder.glob("*.onnx")):
                    add(path, origin)
        for path in self.added:
            if path.is_file():
                add(path, "added")
        try:
            published = entries()
        except UserError:
            published = []
        for entry in published:
            if onnx_path(entry).is_file():
                add(onnx_path(entry), "yours")
            else:
                found.append(ModelEntry(entry.name, "catalog", catalog=entry))
        return found

    def add(self, path: Path) -> ModelEntry:
        """Offer ``path`` from now on; refuse a file that is not an ONNX model."""
        self.describe(path)
        if path not in self.added:
            self.added.append(path)
        return ModelEntry(path.stem, "added", path)

    def describe(self, path: Path) -> ModelFile:
        key = (path.resolve(), path.stat().st_mtime if path.exists() else 0.0)
        if key not in self._described:
            self._described[key] = inspect_model(path)
        return self._described[key]

    def variants(self, path: Path) -> dict[str, Path]:
        """Files exported from the same run as ``path`` by ``--variant all`` (``run-A2B.onnx``
        beside ``run-B2A.onnx``), by variant name, the classifier left out."""
        described = self.describe(path)
        if described.info is None or not described.info.variant:
            return {}
        base = path.stem.removesuffix(f"-{described.info.variant}")
        found = {}
        for sibling in sorted(path.parent.glob(f"{base}-*.onnx")):
            variant = sibling.stem[len(base) + 1 :]
            if variant != CLASSIFIER:
                found[variant] = sibling
        return found

    def classifier_for(self, path: Path) -> Path | None:
        """The attribute classifier exported beside a conditioned model (``faces.onnx`` and
        ``faces-classifier.onnx``, from ``--variant classifier``) with one output per label
        of its first condition: it can preset the sliders from the photo."""
        info = self.describe(path).info
        if info is None or not info.io.conditions:
            return None
        base = path.stem.removesuffix(f"-{info.variant}") if info.variant else path.stem
        candidate = path.with_name(f"{base}-{CLASSIFIER}.onnx")
        if not candidate.is_file():
            return None
        try:
            other = self.describe(candidate).info
        except UserError:
            return None
        labels = len(info.io.conditions[0].labels)
        if other is None or other.variant != CLASSIFIER or other.io.out_channels != labels:
            return None
        return candidate
