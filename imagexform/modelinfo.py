"""The self-description every exported ONNX file carries: the contract between the halves.

Export writes a :class:`ModelInfo` as JSON under the ONNX metadata key ``imagexform``; the
runtime, the batch command and the editor read it back to know how to feed the model (value
range, channels, colour order, scale, size multiple, condition inputs, tiling hints) and where
it came from. Torch-free: the inference side imports this.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from imagexform.errors import UserError
from imagexform.family import ConditionSpec, IOSpec, TileHints

SCHEMA_VERSION = 1
METADATA_KEY = "imagexform"
IMAGE_INPUT = "image"
OUTPUT = "output"
# ModelInfo.role of a model that answers, for a photo, one probability per label of the first
# condition of the generator it pairs with (the generator exported from the same run), so the
# editor can preset that generator's sliders from the photo (face editing's attribute head).
CLASSIFIER_ROLE = "classifier"


@dataclass
class ModelInfo:
    family: str
    io: IOSpec
    title: str = ""
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None
    plugin_version: str | None = None
    tile: TileHints = field(default_factory=TileHints)
    precision: str = "fp32"
    provenance: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # which of the family's variants this file is (e.g. CycleGAN's "B2A")
    role: str = ""  # "" for an image transform; CLASSIFIER_ROLE for a generator's classifier
    icon: str = ""  # base64 PNG the editor shows for the model (a style model's painting)
    task: str = ""  # what an imported model does: "super-resolution", "restoration", ...
    # Imported models: architecture name, sub-type, parameters, GFLOPs per megapixel, licence
    # note... (see imagexform.export.importing.architecture_record)
    architecture: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "<metadata>") -> ModelInfo:
        """Parse and validate; raise a :class:`UserError` naming ``source`` when malformed."""
        try:
            raw = json.loads(text)
            version = int(raw.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                raise UserError(
                    f"{source}: model metadata schema {version} is newer than this imagexform "
                    f"understands ({SCHEMA_VERSION}); upgrade imagexform"
                )
            io = dict(raw["io"])
            io["conditions"] = tuple(
                ConditionSpec(
                    name=c["name"],
                    labels=tuple(c.get("labels", ())),
                    defaults=tuple(float(v) for v in c.get("defaults", ())),
                    groups=tuple(tuple(g) for g in c.get("groups", ())),
                    value_range=tuple(c.get("value_range", (0.0, 1.0))),
                )
                for c in io.get("conditions", ())
            )
            io["value_range"] = tuple(float(v) for v in io["value_range"])
            io["adjustments"] = tuple(str(name) for name in io.get("adjustments", ()))
            return cls(
                family=str(raw["family"]),
                io=IOSpec(**io),
                title=str(raw.get("title", "")),
                description=str(raw.get("description", "")),
                config=dict(raw.get("config", {})),
                plugin=raw.get("plugin"),
                plugin_version=raw.get("plugin_version"),
                tile=_known(TileHints, raw.get("tile", {})),
                precision=str(raw.get("precision", "fp32")),
                provenance=dict(raw.get("provenance", {})),
                variant=str(raw.get("variant", "")),
                role=str(raw.get("role", _legacy_role(raw))),
                icon=str(raw.get("icon", "")),
                task=str(raw.get("task", "")),
                architecture=dict(raw.get("architecture", {})),
                schema_version=version,
            )
        except UserError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{source}: malformed imagexform metadata ({exc})") from None


def _legacy_role(raw: dict[str, Any]) -> str:
    """The role of a file written before ModelInfo had one: face editing's classifier was
    the only one, exported as its variant named "classifier"."""
    return CLASSIFIER_ROLE if raw.get("variant") == CLASSIFIER_ROLE else ""


def _known(kind: type, values: dict[str, Any]) -> Any:
    """``kind`` from the keys it knows: a hint added by a newer imagexform is ignored here
    instead of making the whole file unreadable."""
    names = {f.name for f in fields(kind)}
    return kind(**{key: value for key, value in values.items() if key in names})


def describe_model_proto(model: Any, info: ModelInfo) -> None:
    """Make ``info`` an ``onnx.ModelProto``'s only metadata, with imagexform as its producer
    and the title and description as its doc string: the torch export and the torch-free
    conversion describe their files alike."""
    import imagexform

    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_KEY, value=info.to_json())
    model.producer_name = "imagexform"
    model.producer_version = imagexform.__version__
    model.doc_string = "\n".join(part for part in (info.title, info.description) if part)
