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
from imagexform.modelinfo import CLASSIFIER_ROLE, ModelInfo
from imagexform.runtime.modelfile import ModelFile, inspect_model


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
        beside ``run-B2A.onnx``), by variant name; models with a role (a classifier) are not
        image transforms to switch to, and are left out."""
        described = self.describe(path)
        if described.info is None or not described.info.variant:
            return {}
        base = path.stem.removesuffix(f"-{described.info.variant}")
        found = {}
        for sibling in sorted(path.parent.glob(f"{base}-*.onnx")):
            info = self._info(sibling)
            if info is None or not info.role:
                found[sibling.stem[len(base) + 1 :]] = sibling
        return found

    def classifier_for(self, path: Path) -> Path | None:
        """The classifier paired with a conditioned model, which can preset its sliders from
        the photo: a model in the same folder whose role is the classifier's, of the same
        family and run (where both files record their run), with one output per label of
        the model's first condition. Whatever the files are called."""
        info = self.describe(path).info
        if info is None or not info.io.conditions:
            return None
        labels = len(info.io.conditions[0].labels)
        for sibling in sorted(path.parent.glob("*.onnx")):
            other = self._info(sibling) if sibling != path else None
            if (
                other is not None
                and other.role == CLASSIFIER_ROLE
                and other.family == info.family
                and other.io.out_channels == labels
                and _same_run(info, other)
            ):
                return sibling
        return None

    def _info(self, path: Path) -> ModelInfo | None:
        """``path``'s metadata; None for a file that is not an imagexform model."""
        try:
            return self.describe(path).info
        except UserError:
            return None


def _same_run(first: ModelInfo, second: ModelInfo) -> bool:
    """Whether two exports come from one training run; true when either does not say (a
    file made by hand or imported from elsewhere)."""
    runs = [
        info.provenance.get("run") or info.provenance.get("checkpoint") for info in (first, second)
    ]
    return None in runs or runs[0] == runs[1]
