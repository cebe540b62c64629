"""Make the weightless graph templates that torch-free conversion fills (training side).

A template is made the way a user's import is: a checkpoint in the published layout, here
with random weights, goes through :func:`~imagexform.export.importing.import_foreign` (the
plugin's importer, the family, the parity check, the model's metadata), exported by the
dynamo exporter *without* its optimiser so that every initializer is one of the
checkpoint's tensors as it is. Each initializer is then found among the checkpoint's tensors
by its bytes (the random weights make every tensor distinct), its data removed, and the map
from initializer to key recorded in the file (:mod:`imagexform.convert.templates`). An
initializer that equals no tensor means the exporter computed it from weights; such a
template is refused rather than shipped wrong.

``python -m imagexform.export.templates`` remakes every plugin's shipped templates from its
recipes; ``--check`` remakes them in a scratch folder and fails when one drifted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imagexform.convert.templates import TEMPLATE_KEY, Template, read_template
from imagexform.errors import UserError
from imagexform.export.exporters import TEMPLATE_EXPORTER
from imagexform.export.importing import import_foreign
from imagexform.plugins import PluginHost, host

# An initializer no checkpoint tensor explains may stay in the graph only when it is this
# small: a shape, a scale factor, a padding amount, never a weight.
MAX_GRAPH_CONSTANT_BYTES = 1024
SEED = 20181204


@dataclass(frozen=True)
class TemplateRecipe:
    """How to make one template: a state dict in the layout of the published files (any
    weights; they are replaced by random ones), the importer that reads it, and the family
    and ``--set`` values its catalog entries import it with."""

    name: str
    importer: str
    example: Callable[[], Mapping[str, torch.Tensor]]
    family: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)


def distinct_weights(state: Mapping[str, torch.Tensor], seed: int = SEED) -> dict[str, Any]:
    """``state`` with every floating tensor moved by a little noise: values stay of the
    network's own scale (its outputs stay finite through 23 blocks) and no two tensors are
    equal, so each initializer names exactly one key. Variances stay positive."""
    generator = torch.Generator().manual_seed(seed)
    moved = {}
    for key, tensor in state.items():
        if tensor.is_floating_point():
            noise = 0.01 * torch.randn(tensor.shape, generator=generator)
            tensor = (tensor.float() + noise).to(tensor.dtype)
            if key.endswith("running_var"):
                tensor = tensor.abs() + 0.01
        moved[key] = tensor
    return moved


def _initializer_keys(model: Any, state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Each weight initializer's checkpoint key, found by its bytes."""
    from onnx import numpy_helper

    by_bytes = {value.detach().float().numpy().tobytes(): key for key, value in state.items()}
    found = {}
    for initializer in model.graph.initializer:
        array = np.ascontiguousarray(numpy_helper.to_array(initializer))
        key = by_bytes.get(array.tobytes()) if array.dtype == np.float32 else None
        if key is not None:
            found[initializer.name] = key
        elif array.nbytes > MAX_GRAPH_CONSTANT_BYTES:
            raise UserError(
                f"initializer {initializer.name} ({array.shape}) equals no tensor of the "
                "checkpoint: the exporter computed it from the weights, so no template can be "
                "filled from a checkpoint"
            )
    return found


def _emptied(model: Any, mapped: Mapping[str, str]) -> None:
    """Drop the weights' data (their names, types and dimensions stay) and the exporter's
    notes (source lines, stack traces, its program's signature), which are most of a graph's
    size and differ between two exports of one network."""
    for initializer in model.graph.initializer:
        if initializer.name in mapped:
            for name in ("raw_data", "float_data", "double_data", "int32_data", "int64_data"):
                initializer.ClearField(name)
    for node in model.graph.node:
        node.ClearField("metadata_props")
        node.ClearField("doc_string")
    model.graph.ClearField("value_info")
    model.graph.ClearField("metadata_props")  # the exporter's symbol names change per run


def make_template(recipe: TemplateRecipe, folder: Path, plugins: PluginHost | None = None) -> Path:
    """Write ``folder/<recipe.name>.onnx`` and return its path."""
    import onnx

    plugin_host = plugins or host()
    importer = next(i for i in plugin_host.importers() if i.name == recipe.importer)
    state = distinct_weights(recipe.example())
    canonical = importer.canonical_state(state)
    if not canonical:
        raise UserError(
            f"template {recipe.name}: importer {importer.name} does not read the example"
        )
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"{recipe.name}.pth"
        torch.save(state, source)
        report = import_foreign(
            source,
            Path(scratch) / "graph.onnx",
            plugins=plugin_host,
            overrides=dict(recipe.overrides),
            only=recipe.importer,
            family_name=recipe.family,
            exporters=(TEMPLATE_EXPORTER,),
        )
        model = onnx.load(str(report.path))
    mapped = _initializer_keys(model, canonical)
    _emptied(model, mapped)
    default_title = f"{report.info.family} from {source.name}"
    template = Template(
        name=recipe.name,
        path=folder / f"{recipe.name}.onnx",
        info=report.info,
        importer=importer.name,
        keys={key: tuple(value.shape) for key, value in canonical.items()},
        initializers=mapped,
        made_with={
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "exporter": TEMPLATE_EXPORTER,
            "opset": report.opset,
        },
        title="" if report.info.title == default_title else report.info.title,
    )
    model.metadata_props.add(key=TEMPLATE_KEY, value=template.to_metadata())
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(template.path))
    return template.path


def drift(shipped: Path, remade: Path) -> str | None:
    """None when the remade template is the shipped one (graph and key map); else what
    differs, said in one line."""
    import onnx

    old, new = read_template(shipped), read_template(remade)
    if old.made_with != new.made_with:
        return f"made with {old.made_with}, now {new.made_with}"
    if old.keys != new.keys or old.initializers != new.initializers:
        return "its checkpoint keys or their initializers changed"
    if onnx.load(str(shipped)).graph != onnx.load(str(remade)).graph:
        return "its graph changed"
    return None


def recipes(plugins: PluginHost) -> list[tuple[Path, TemplateRecipe]]:
    """Every plugin's template recipes, each with the package folder its template ships in."""
    found = []
    for template_set in plugins.template_sets():
        module, _, function = template_set.recipes.partition(":")
        folder = Path(str(importlib.resources.files(template_set.package)))
        found.extend(
            (folder, recipe) for recipe in getattr(importlib.import_module(module), function)()
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these templates")
    parser.add_argument("--check", action="store_true", help="remake in a scratch folder, compare")
    args = parser.parse_args(argv)
    plugin_host = host()
    drifted = 0
    for folder, recipe in recipes(plugin_host):
        if args.names and recipe.name not in args.names:
            continue
        if not args.check:
            print(f"wrote {make_template(recipe, folder, plugin_host)}")
            continue
        with tempfile.TemporaryDirectory() as scratch:
            remade = make_template(recipe, Path(scratch), plugin_host)
            difference = drift(folder / remade.name, remade)
        drifted += difference is not None
        print(f"{recipe.name}: {difference or 'as shipped'}")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
