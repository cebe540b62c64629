"""Everything a plugin may import from imagexform: the plugin API, version 1.0.

:data:`PLUGIN_API_VERSION` governs exactly the names in ``__all__``. Within a major version a
name is never removed or renamed and a signature only gains optional arguments, so a plugin
that imports nothing else from ``imagexform`` keeps working. Everything else in the package is
internal and may change in any release; the built-in plugins (``plugins/``) and the template
(``examples/plugin-template``) import only from here, and ``tests/test_architecture.py``
checks that they do.

Importing this module imports neither torch nor OpenCV: the host imports every plugin to list
families, also where only the runtime is installed. Names that need them (networks, losses,
datasets, the training context, image I/O) are resolved on first use, so import them inside
the methods and modules that run only while training, importing or exporting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from imagexform.config import apply_text, apply_values, path_setting
from imagexform.errors import ConfigError, DataError, UserError
from imagexform.family import (
    ConditionSpec,
    Family,
    GANConfig,
    Imported,
    Importer,
    IOSpec,
    TemplateSet,
    TileHints,
    TrainConfig,
    TrainStep,
)
from imagexform.hookspecs import PLUGIN_API_VERSION, hookimpl
from imagexform.modelinfo import CLASSIFIER_ROLE

if TYPE_CHECKING:
    from imagexform.convert.statedict import is_tensor_dict, strip_wrappers, unwrap_state_dict
    from imagexform.data.augment import (
        augment_image,
        augment_pair,
        checked_load_size,
        resize_image,
        resize_pair,
    )
    from imagexform.data.paired import (
        SkippedImageWarning,
        images_by_stem,
        images_in,
        name_listing,
        paired_dataset_or_none,
        probe_images,
        readable_images,
        split_folders,
        to_tensor,
    )
    from imagexform.data.samples import SampleDataset, SampleRandom
    from imagexform.export.templates import TemplateRecipe
    from imagexform.imaging import imresize
    from imagexform.imaging.fit import fit
    from imagexform.io.images import (
        ImageReadError,
        PathLike,
        display_path,
        encode_image,
        read_image,
        to_float,
        to_rgb,
        to_uint8,
    )
    from imagexform.losses.adversarial import AdversarialLoss, add_instance_noise, gradient_penalty
    from imagexform.losses.perceptual import PerceptualLoss, VGGFeatures, parse_layer_weights
    from imagexform.losses.pixel import pixel_loss, psnr_db
    from imagexform.metrics import sr_scores
    from imagexform.nn import (
        NormName,
        ResnetGenerator,
        UnetGenerator,
        build_patchgan,
        init_weights,
        load_published,
        patch_instance_norm_state,
    )
    from imagexform.nn.generators import build_image_generator, image_generator_size_multiple
    from imagexform.nn.resnet import N_DOWNSAMPLING
    from imagexform.nn.unet import MIN_UNET_DOWNS
    from imagexform.train.checkpoint import mismatch_summary
    from imagexform.train.context import TrainContext

# Names that need torch, OpenCV or NumPy, by the module that defines them; imported on first
# use, so that listing plugins stays as cheap as importing their entry modules.
_LAZY = {
    "imagexform.data.augment": (
        "augment_image",
        "augment_pair",
        "checked_load_size",
        "resize_image",
        "resize_pair",
    ),
    "imagexform.data.paired": (
        "SkippedImageWarning",
        "images_by_stem",
        "images_by_stem",
        "images_in",
        "name_listing",
        "paired_dataset_or_none",
        "probe_images",
        "readable_images",
        "split_folders",
        "to_tensor",
    ),
    "imagexform.data.samples": ("SampleDataset", "SampleRandom"),
    "imagexform.convert.statedict": ("is_tensor_dict", "strip_wrappers", "unwrap_state_dict"),
    "imagexform.export.templates": ("TemplateRecipe",),
    "imagexform.imaging": ("imresize",),
    "imagexform.imaging.fit": ("fit",),
    "imagexform.io.images": (
        "ImageReadError",
        "PathLike",
        "display_path",
        "encode_image",
        "read_image",
        "to_float",
        "to_rgb",
        "to_uint8",
    ),
    "imagexform.losses.adversarial": ("AdversarialLoss", "add_instance_noise", "gradient_penalty"),
    "imagexform.losses.perceptual": ("PerceptualLoss", "VGGFeatures", "parse_layer_weights"),
    "imagexform.losses.pixel": ("pixel_loss", "psnr_db"),
    "imagexform.metrics": ("sr_scores",),
    "imagexform.nn": (
        "NormName",
        "ResnetGenerator",
        "UnetGenerator",
        "build_patchgan",
        "init_weights",
        "load_published",
        "patch_instance_norm_state",
    ),
    "imagexform.nn.generators": ("build_image_generator", "image_generator_size_multiple"),
    "imagexform.nn.resnet": ("N_DOWNSAMPLING",),
    "imagexform.nn.unet": ("MIN_UNET_DOWNS",),
    "imagexform.train.checkpoint": ("mismatch_summary",),
    "imagexform.train.context": ("TrainContext",),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY_MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CLASSIFIER_ROLE",
    "MIN_UNET_DOWNS",
    "N_DOWNSAMPLING",
    "PLUGIN_API_VERSION",
    "AdversarialLoss",
    "ConditionSpec",
    "ConfigError",
    "DataError",
    "Family",
    "GANConfig",
    "IOSpec",
    "ImageReadError",
    "Imported",
    "Importer",
    "NormName",
    "PathLike",
    "PerceptualLoss",
    "ResnetGenerator",
    "SampleDataset",
    "SampleRandom",
    "SkippedImageWarning",
    "TemplateRecipe",
    "TemplateSet",
    "TileHints",
    "TrainConfig",
    "TrainContext",
    "TrainStep",
    "UnetGenerator",
    "UserError",
    "VGGFeatures",
    "add_instance_noise",
    "apply_text",
    "apply_values",
    "augment_image",
    "augment_pair",
    "build_image_generator",
    "build_patchgan",
    "checked_load_size",
    "display_path",
    "encode_image",
    "fit",
    "gradient_penalty",
    "hookimpl",
    "image_generator_size_multiple",
    "images_by_stem",
    "images_in",
    "imresize",
    "init_weights",
    "is_tensor_dict",
    "load_published",
    "mismatch_summary",
    "name_listing",
    "paired_dataset_or_none",
    "parse_layer_weights",
    "patch_instance_norm_state",
    "path_setting",
    "pixel_loss",
    "probe_images",
    "psnr_db",
    "read_image",
    "readable_images",
    "resize_image",
    "resize_pair",
    "split_folders",
    "sr_scores",
    "strip_wrappers",
    "to_float",
    "to_rgb",
    "to_tensor",
    "to_uint8",
    "unwrap_state_dict",
]
