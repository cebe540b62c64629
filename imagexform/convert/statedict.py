"""Finding the state dict inside a checkpoint, for torch tensors and numpy arrays alike.

The torch importers and the torch-free converter read the same published files, so both
unwrap them here: training tools nest the weights under containers (BasicSR's
``params_ema``, Lightning's ``state_dict``...) and prefix every key when a network was wrapped
(DataParallel/DDP ``module.``, ``torch.compile``'s ``_orig_mod.``). Nothing here imports torch:
a value counts as a tensor when it has a shape and a dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Containers a state dict is found under, most preferred first.
CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "network")


def is_array(value: object) -> bool:
    """A torch tensor or a numpy array (whatever has a shape and a dtype)."""
    return hasattr(value, "shape") and hasattr(value, "dtype")


def is_tensor_dict(value: object) -> bool:
    """A non-empty mapping of names to tensors: a state dict."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and is_array(v) for k, v in value.items())
    )


def strip_wrappers(state: Mapping[str, T]) -> dict[str, T]:
    """Remove ``module.`` (DataParallel/DDP) and ``_orig_mod.`` (torch.compile) prefixes.

    A prefix is removed only when every key carries it, repeatedly, so nested wrappers unwrap
    and a network that merely has a child named ``module`` is left alone. The result is a
    plain dict: the reference loaders drop the ``_metadata`` attribute too.
    """
    items = list(state.items())
    while items:
        prefix = next(
            (p for p in WRAPPER_PREFIXES if all(key.startswith(p) for key, _ in items)), None
        )
        if prefix is None:
            break
        items = [(key[len(prefix) :], value) for key, value in items]
    return dict(items)


def unwrap_state_dict(checkpoint: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The state dict inside ``checkpoint`` and the container entry it came from ("" when
    the file is a bare state dict), with every-key ``module.``/``_orig_mod.`` prefixes
    removed. Containers nest (Lightning's ``state_dict`` inside a training checkpoint), so
    the search repeats; a mapping with no tensors at all comes back empty."""
    entries = []
    current: Mapping[str, Any] = checkpoint
    while not is_tensor_dict(current):
        entry = next((k for k in CONTAINER_KEYS if isinstance(current.get(k), Mapping)), None)
        if entry is None:
            return {}, ".".join(entries)
        entries.append(entry)
        current = current[entry]
    return strip_wrappers(current), ".".join(entries)
