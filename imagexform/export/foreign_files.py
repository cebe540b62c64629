"""Reading a foreign weights file into a state dict, without ever executing code from it.

Community model databases publish the same networks as ``.pth``/``.pt``/``.ckpt`` pickles and
as ``.safetensors``. Pickles are loaded with ``torch.load(weights_only=True)``, which refuses
any global outside tensors and plain containers, so a file that would need its own classes
is refused instead of run. Safetensors files hold no code at all; a truncated one, or one whose
header's offsets do not cover the data, is refused in one line before any tensor is used.

Training tools wrap the weights: BasicSR under ``params_ema`` (the averaged generator, which
its releases and inference use) or ``params``, Lightning and many others under
``state_dict`` or ``model``, DataParallel/DDP with a ``module.`` prefix on every key.
:func:`unwrap_state_dict` (torch-free, in :mod:`imagexform.convert.statedict`) finds the
tensors inside the way spandrel does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from imagexform.errors import UserError

PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
SAFETENSORS_SUFFIX = ".safetensors"
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def read_foreign(path: Path) -> Any:
    """The object stored in ``path`` (for safetensors, a flat dict of tensors); a
    :class:`UserError` naming the file for anything unreadable or unsafe."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == SAFETENSORS_SUFFIX:
        return _read_safetensors(path)
    return _read_pickle(path)


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable .safetensors file ({reason})") from None


def _read_pickle(path: Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers: a file that needs its own
    classes to load would run arbitrary code, so it is refused rather than unpickled."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        unsafe = _UNSAFE_GLOBAL.search(str(exc))
        if unsafe:
            raise UserError(
                f"{path}: loading it would execute pickled code ({unsafe.group(1)}), which "
                "imagexform never does; re-save only the network's state_dict"
            ) from None
        raise UserError(
            f"{path}: not a PyTorch checkpoint that loads without executing code "
            f"({type(exc).__name__})"
        ) from None
