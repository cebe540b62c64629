"""Which model files the server offers, under which names, each loaded once per process.

A request names a model by the key of a table filled at start-up, never by a path: a name
such as ``../../secret`` matches no key, so nothing outside the files chosen here is reachable
whatever the URL says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from imagexform.catalog import SHIPPED_MODELS, local_model, model_folder
from imagexform.catalog.resolve import MODEL_SUFFIXES
from imagexform.errors import UserError
from imagexform.io.images import display_path

if TYPE_CHECKING:
    from imagexform.runtime import RuntimeModel


def find_model_files(specs: Sequence[str], models_dir: Path | None = None) -> dict[str, Path]:
    """Model files by the name clients use (the file's stem).

    ``specs`` are files or names; a name is looked up in ``models_dir`` when given, otherwise
    among the installed and shipped models. Without specs, every ``.onnx`` file of
    ``models_dir`` is served (or of the user's model folder and the shipped models, the
    user's copy winning a name both have).
    """
    if specs:
        paths = [_resolve(spec, models_dir) for spec in specs]
    else:
        folders = [models_dir] if models_dir is not None else [model_folder(), SHIPPED_MODELS]
        paths = _first_of_each_name(folders)
    found: dict[str, Path] = {}
    for path in paths:
        if path.stem in found:
            raise UserError(
                f"{display_path(path)}: a model named {path.stem!r} is already served "
                f"({display_path(found[path.stem])}); rename one of the files"
            )
        found[path.stem] = path
    if not found:
        where = display_path(models_dir) if models_dir is not None else "the model folders"
        raise UserError(f"no .onnx models to serve in {where}; name the models to serve")
    return found


def _first_of_each_name(folders: Sequence[Path]) -> list[Path]:
    chosen: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.onnx")):
                chosen.setdefault(path.stem, path)
    return list(chosen.values())


def _resolve(spec: str, models_dir: Path | None) -> Path:
    plain_name = Path(spec).name == spec and Path(spec).suffix.lower() not in MODEL_SUFFIXES
    if models_dir is not None and plain_name:
        path = models_dir / f"{spec}.onnx"
        if not path.is_file():
            raise UserError(f"{spec}: no model {spec}.onnx in {display_path(models_dir)}")
        return path
    path = local_model(spec, must_exist=True)
    if not path.is_file():
        raise UserError(f"{display_path(path)}: model file not found")
    return path


def load_models(
    files: Mapping[str, Path], *, device: str = "auto", threads: int = 0
) -> dict[str, RuntimeModel]:
    """One :class:`RuntimeModel` (one ONNX Runtime session) per name, shared by every request
    and worker thread. A model that answers with something other than an image is refused
    here, at start-up, rather than on every request."""
    from imagexform.runtime import load_model

    models = {}
    for name, path in files.items():
        model = load_model(path, device=device, threads=threads)
        model.require_images()
        models[name] = model
    return models


def describe(name: str, model: RuntimeModel) -> dict[str, object]:
    """What a client needs to call the model: its task, scale, conditions (labels, groups,
    defaults, range) and the adjustments its family shows, from the file's own metadata."""
    info = model.info
    io = info.io
    return {
        "name": name,
        "title": info.title or name,
        "family": info.family,
        "task": info.description or info.title or info.family,
        "scale": io.scale,
        "channels": io.channels,
        "out_channels": io.out_channels,
        "size_multiple": io.size_multiple,
        "conditions": [
            {
                "name": spec.name,
                "labels": list(spec.labels),
                "groups": [list(group) for group in spec.groups],
                "defaults": list(spec.defaults),
                "value_range": list(spec.value_range),
            }
            for spec in io.conditions
        ],
        "adjustments": list(io.adjustments),
        "precision": model.precision,
        "provider": model.provider,
    }
