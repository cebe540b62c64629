"""Loading state dicts written by other code bases (reference implementations), family-agnostic.

Foreign files differ from ours in small, known ways: wrapper prefixes from DataParallel or
``torch.compile``, stale buffers from old PyTorch versions, and no record of the constructor
settings. These helpers undo the first two exactly as the reference loaders do; recovering the
third is the importing family's job (pix2pix reads a junyanz generator's off its layout).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from imagexform.errors import UserError


def patch_instance_norm_state(net: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop the InstanceNorm buffers that files from PyTorch < 0.4 (or junyanz code of
    June-October 2018) carry but current affine-free InstanceNorm layers refuse.

    Mirrors the reference's ``__patch_instance_norm_state_dict``: each key's owning module is
    looked up in ``net``; for InstanceNorm owners, ``running_mean``/``running_var`` go when
    the layer keeps no such buffer and ``num_batches_tracked`` always goes. Every other key,
    including ones ``net`` does not know, is kept so a strict load still reports real
    mismatches.
    """
    patched: dict[str, Tensor] = {}
    for key, value in state.items():
        owner_path, _, name = key.rpartition(".")
        owner = _submodule(net, owner_path)
        if isinstance(owner, nn.modules.instancenorm._InstanceNorm) and (
            name == "num_batches_tracked"
            or (name in ("running_mean", "running_var") and getattr(owner, name, None) is None)
        ):
            continue
        patched[key] = value
    return patched


def load_published(
    net: nn.Module, state: Mapping[str, Tensor], looks_like: str, expected: str = ""
) -> None:
    """Load a published state dict into ``net`` strictly, after :func:`patch_instance_norm_state`.

    An importer calls this once the file has passed its sniff test, so a failure here means the
    user picked a file that only resembles the layout: one line saying what it looked like
    (``looks_like``, e.g. "looks like a StarGAN generator"), the first mismatching keys and,
    when given, the layers the layout ``expected``.
    """
    from imagexform.train.checkpoint import mismatch_summary

    try:
        net.load_state_dict(patch_instance_norm_state(net, state), strict=True)
    except RuntimeError as exc:
        wanted = f"; expected {expected}" if expected else ""
        raise UserError(
            f"{looks_like} but does not fit one ({mismatch_summary(exc)}){wanted}"
        ) from None


def _submodule(net: nn.Module, path: str) -> nn.Module | None:
    try:
        return net.get_submodule(path)
    except AttributeError:
        return None
