"""Weightless ONNX graph templates: the graph of one published architecture configuration,
with the name of the checkpoint tensor that fills each of its weights.

A template is an ordinary ONNX file that imagexform exported from a network with random
weights (``python -m imagexform.export.templates``), with every weight's data removed and a
second metadata entry, ``imagexform_template``, that lists the checkpoint's keys and shapes
and maps each emptied initializer to its key. Its ``imagexform`` metadata is the model's, as
the torch export wrote it: filling the weights in is all a conversion has to do. Plugins
ship templates as package data (:class:`imagexform.family.TemplateSet`); reading one needs
neither torch nor the ``onnx`` package.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagexform.errors import UserError
from imagexform.modelinfo import ModelInfo
from imagexform.plugins import PluginHost
from imagexform.runtime.modelfile import inspect_model

TEMPLATE_KEY = "imagexform_template"
TEMPLATE_SCHEMA = 1


@dataclass(frozen=True)
class Template:
    """One template file's description (its weights are filled by :mod:`.fill`)."""

    name: str
    path: Path
    info: ModelInfo  # the model's metadata as the torch export wrote it
    importer: str  # the importer that read the checkpoint the template was made from
    keys: dict[str, tuple[int, ...]]  # the checkpoint's state dict, in its order
    initializers: dict[str, str]  # emptied initializer -> checkpoint key
    made_with: dict[str, Any]  # torch, exporter, opset that made the graph
    title: str  # the model's default title ("" when it is named after the file)

    @property
    def family(self) -> str:
        return self.info.family

    def to_metadata(self) -> str:
        return json.dumps(
            {
                "schema": TEMPLATE_SCHEMA,
                "name": self.name,
                "importer": self.importer,
                "keys": [[key, list(shape)] for key, shape in self.keys.items()],
                "initializers": self.initializers,
                "made_with": self.made_with,
                "title": self.title,
            }
        )


def read_template(path: Path) -> Template:
    """The template in ``path``; a one-line error naming it when it is not one."""
    model = inspect_model(path)
    raw = model.metadata.get(TEMPLATE_KEY)
    if raw is None or model.info is None:
        raise UserError(f"{path}: not an imagexform graph template (no {TEMPLATE_KEY} metadata)")
    try:
        data = json.loads(raw)
        if data.get("schema") != TEMPLATE_SCHEMA:
            raise ValueError(f"schema {data.get('schema')}, this version reads {TEMPLATE_SCHEMA}")
        return Template(
            name=str(data["name"]),
            path=path,
            info=model.info,
            importer=str(data["importer"]),
            keys={str(key): tuple(int(n) for n in shape) for key, shape in data["keys"]},
            initializers={str(k): str(v) for k, v in data["initializers"].items()},
            made_with=dict(data["made_with"]),
            title=str(data.get("title", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: damaged graph template ({exc})") from None


def template_files(plugins: PluginHost) -> list[Path]:
    """Every template file the loaded plugins ship, in plugin order."""
    found: list[Path] = []
    for template_set in plugins.template_sets():
        try:
            folder = importlib.resources.files(template_set.package)
        except ModuleNotFoundError:
            continue
        found.extend(
            Path(str(entry))
            for entry in sorted(folder.iterdir(), key=lambda entry: entry.name)
            if entry.name.endswith(".onnx")
        )
    return found


def available_templates(plugins: PluginHost) -> list[Template]:
    """Every shipped template, read (metadata only, a few milliseconds each)."""
    return [read_template(path) for path in template_files(plugins)]


def find_template(name: str, plugins: PluginHost) -> Template:
    """The shipped template called ``name``; one line listing the others if there is none."""
    templates = available_templates(plugins)
    for template in templates:
        if template.name == name:
            return template
    known = ", ".join(t.name for t in templates) or "none"
    raise UserError(f"no graph template is called {name!r} (templates: {known})")
