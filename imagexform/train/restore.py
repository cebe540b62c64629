"""Rebuild trained networks from a checkpoint alone: family, architecture and weights all come
from the checkpoint's own metadata, so no flag has to be repeated to load it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from imagexform.config import from_dict
from imagexform.errors import CheckpointError
from imagexform.family import Family, TrainConfig
from imagexform.plugins import PluginHost, host
from imagexform.train.checkpoint import Checkpoint, load_checkpoint, mismatch_summary


@dataclass
class Trained:
    family: Family
    config: TrainConfig
    nets: dict[str, nn.Module]
    checkpoint: Checkpoint


def load_trained(path: Path, *, use_ema: bool = True, plugins: PluginHost | None = None) -> Trained:
    """Networks in eval mode; with ``use_ema`` the EMA weights replace the raw ones where saved."""
    checkpoint = load_checkpoint(path)
    family = (plugins or host()).family(checkpoint.family)
    config = from_dict(family.config_class, checkpoint.meta["config"])
    nets = family.build(config)
    for name, net in nets.items():
        weights = checkpoint.weights_for(name, prefer_ema=use_ema)
        if weights is None:
            raise CheckpointError(f"{checkpoint.path}: has no weights for network {name!r}")
        try:
            net.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{checkpoint.path}: weights of {name!r} do not fit ({mismatch_summary(exc)})"
            ) from None
        net.eval()
    return Trained(family=family, config=config, nets=nets, checkpoint=checkpoint)
