"""Import any image-to-image model spandrel knows (SwinIR, HAT, DAT, SPAN, Compact, OmniSR...).

spandrel (chaiNNer's loader, MIT) recognises 40-odd published super-resolution and restoration
architectures from a state dict's keys and shapes and rebuilds each with its hyperparameters;
we use its detection and its classes as they are, never copies. Its models all map to image in,
image out at an integer scale in [0, 1] RGB, which is this family's contract, so an imported
model is an ``sr`` model with ``arch = "spandrel"``: scale 1 for restoration (denoise, deblur,
JPEG artefacts). The family config names spandrel's architecture id; the network itself is only
ever rebuilt from the file, never trained here.

Only the ``spandrel`` package is used, which holds the architectures with permissive licences
(MIT, Apache-2.0, public domain); the restrictive ones (CodeFormer, SRFormer, ... in
``spandrel_extra_arches``) are never registered, so their files are not recognised.

Sizes: spandrel's window-attention models pad their input to a multiple of the window inside
``forward``, under a Python ``if`` the TorchScript exporter bakes at its traced size. The
exported graph therefore takes multiples of the window only, and the runtime pads to them
(:func:`runtime_multiple`); these networks pad by reflection too, so the result is the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imagexform.plugin_api import Imported, Importer, UserError, unwrap_state_dict
from imagexform_sr.config import SRConfig

if TYPE_CHECKING:
    from spandrel import Architecture, ImageModelDescriptor
    from torch import nn

PRIORITY = 1000  # after every importer that knows its layout exactly
TASKS = {"SR": "super-resolution", "Restoration": "restoration", "FaceSR": "face restoration"}
# Architectures whose forward pads to ``window_size`` under an ``if`` (see the module docstring)
PADS_TO_WINDOW = frozenset({"SwinIR", "HAT", "Swin2SR", "OmniSR", "DCTLSA"})
FIXED_MULTIPLE = {"SCUNet": 64}  # pads to 64 the same way, a constant not an attribute
LICENCE_NOTE = (
    "architecture code from spandrel's permissive set (MIT, Apache-2.0 or public domain); "
    "the weights carry their publisher's licence"
)
_MISMATCH = re.compile(r"(size mismatch for [\w.]+: copying a param with shape \S+ .*)")
_MISSING = re.compile(r'(Missing key\(s\) in state_dict: "[\w.]+")')


def detected_architecture(state: Mapping[str, Any]) -> Architecture | None:
    """The first of spandrel's architectures, in its own detection order, that claims
    ``state``: keys and shapes only, nothing is built."""
    from spandrel import MAIN_REGISTRY

    for support in MAIN_REGISTRY.architectures("detection"):
        if support.detect(state):
            return support.architecture
    return None


def runtime_multiple(descriptor: ImageModelDescriptor) -> int:
    """What the input's height and width must be multiples of in the exported graph."""
    arch_id = str(descriptor.architecture.id)
    multiple = descriptor.size_requirements.multiple_of
    if arch_id in PADS_TO_WINDOW:
        multiple = math.lcm(multiple, int(descriptor.model.window_size))
    return math.lcm(multiple, FIXED_MULTIPLE.get(arch_id, 1))


def _load(architecture: Architecture, state: Mapping[str, Any]) -> ImageModelDescriptor:
    """spandrel's load, with its failures said in one line that names the tensor at fault."""
    from spandrel import ImageModelDescriptor

    name = architecture.name
    try:
        descriptor = architecture.load(dict(state))
    except KeyError as exc:
        raise UserError(f"{name} checkpoint lacks tensor {exc.args[0]!r}") from None
    except RuntimeError as exc:
        found = _MISMATCH.search(str(exc)) or _MISSING.search(str(exc))
        detail = found.group(1) if found else str(exc).strip().splitlines()[0]
        raise UserError(f"{name} checkpoint does not fit the architecture: {detail}") from None
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(
            f"{name} checkpoint does not load ({type(exc).__name__}: {reason})"
        ) from None
    if not isinstance(descriptor, ImageModelDescriptor):
        raise UserError(
            f"{name} is an {descriptor.purpose.lower()} model: it needs a mask besides the "
            "image, which imagexform models cannot take"
        )
    return descriptor


def _record(descriptor: ImageModelDescriptor) -> dict[str, Any]:
    """The model descriptor's facts for the file's metadata and ``models info``."""
    name = descriptor.architecture.name
    subtype = " ".join(tag for tag in descriptor.tags if tag.isalpha())
    needs = descriptor.size_requirements
    return {
        "name": name,
        "subtype": subtype,
        "title": " ".join(part for part in (name, subtype, f"×{descriptor.scale}") if part),
        "tags": list(descriptor.tags),
        "purpose": descriptor.purpose,
        "size_requirements": {
            "minimum": needs.minimum,
            "multiple_of": needs.multiple_of,
            "square": needs.square,
        },
        "supports_half": descriptor.supports_half,
        "supports_bfloat16": descriptor.supports_bfloat16,
        "license": LICENCE_NOTE,
        "loader": "spandrel",
    }


class SpandrelImporter(Importer):
    """Every architecture in the ``spandrel`` package, as the fallback importer."""

    name = "spandrel"
    summary = "spandrel's SR/restoration architectures (SwinIR, HAT, DAT, SPAN, Compact, ...)"
    priority = PRIORITY
    isolate_export = True

    def detect(self, checkpoint: Mapping[str, Any]) -> bool:
        state, _ = unwrap_state_dict(checkpoint)
        return bool(state) and detected_architecture(state) is not None

    def load(
        self, checkpoint: Mapping[str, Any], overrides: Mapping[str, str] | None = None
    ) -> Imported | None:
        """``overrides`` must be empty: spandrel reads every setting from the file."""
        state, entry = unwrap_state_dict(checkpoint)
        architecture = detected_architecture(state) if state else None
        if architecture is None:
            return None
        if overrides:
            raise UserError(
                f"{architecture.name} checkpoints take no --set values; the file says it all"
            )
        descriptor = _load(architecture, state)
        network: nn.Module = descriptor.model.float().eval()
        config = SRConfig(
            arch="spandrel",
            spandrel_arch=str(architecture.id),
            spandrel_multiple=runtime_multiple(descriptor),
            scale=descriptor.scale,
            num_in_ch=descriptor.input_channels,
            num_out_ch=descriptor.output_channels,
        )
        record = _record(descriptor)
        origin = f", from '{entry}'" if entry else ""
        return Imported(
            family="sr",
            config=config,
            nets={"G": network},
            description=f"{record['title']} via spandrel ({', '.join(descriptor.tags)}{origin})",
            architecture=record,
            task=TASKS.get(descriptor.purpose, descriptor.purpose.lower()),
        )
