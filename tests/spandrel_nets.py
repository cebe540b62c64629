"""Tiny networks of spandrel's architectures, built with spandrel's own classes, and the
files the community publishes them as (``.pth`` in the usual wrappers, ``.safetensors``).

Hyperparameters are as small as each architecture allows (a window of 4, one block, a
dozen channels) so that an export takes seconds on two cores; the weights are random.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


@dataclass(frozen=True)
class TinyNet:
    build: Callable[[], nn.Module]
    multiple: int  # the input multiple the import should declare
    pads_with_zeros: bool = False  # pads to its window with zeros where the runtime reflects


def _compact() -> nn.Module:
    from spandrel.architectures.Compact import Compact

    return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4)


def _span() -> nn.Module:
    from spandrel.architectures.SPAN import SPAN

    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2)


def _swinir() -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(
        img_size=16,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=4,
        mlp_ratio=2,
        upscale=2,
        upsampler="pixelshuffle",
    )


def _hat() -> nn.Module:
    from spandrel.architectures.HAT import HAT

    return HAT(
        img_size=16,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=4,
        mlp_ratio=2,
        compress_ratio=3,
        squeeze_factor=4,
        num_feat=8,
        upscale=2,
    )


def _swin2sr() -> nn.Module:
    from spandrel.architectures.Swin2SR import Swin2SR

    return Swin2SR(
        img_size=16,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=4,
        mlp_ratio=2,
        upscale=2,
        upsampler="pixelshuffle",
    )


def _realplksr() -> nn.Module:
    from spandrel.architectures.PLKSR import RealPLKSR

    return RealPLKSR(dim=16, n_blocks=2, upscaling_factor=2, kernel_size=5)


def _omnisr() -> nn.Module:
    from spandrel.architectures.OmniSR import OmniSR

    return OmniSR(num_feat=16, block_num=1, window_size=4, res_num=1, up_scale=2)


def _nafnet() -> nn.Module:
    from spandrel.architectures.NAFNet import NAFNet

    return NAFNet(width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])


TINY_NETS = {
    "Compact": TinyNet(_compact, 1),
    "SPAN": TinyNet(_span, 1),
    "SwinIR": TinyNet(_swinir, 4),
    "HAT": TinyNet(_hat, 4),
    "Swin2SR": TinyNet(_swin2sr, 4),
    "RealPLKSR": TinyNet(_realplksr, 1),
    "OmniSR": TinyNet(_omnisr, 4, pads_with_zeros=True),
    "NAFNet": TinyNet(_nafnet, 1),
}


def random_net(name: str, seed: int = 0) -> nn.Module:
    """The tiny network with random weights (biases and norms too, not just the init)."""
    torch.manual_seed(seed)
    net = TINY_NETS[name].build().eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    return net


def save_pth(net: nn.Module, path: Path, wrapper: str) -> Path:
    """``wrapper``: "params_ema" / "state_dict" (a training container), "module" (every key
    with DataParallel's ``module.`` prefix) or "" (a bare state dict)."""
    state = net.state_dict()
    if wrapper == "module":
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    elif wrapper:
        torch.save({wrapper: state, "iter": 1000}, path)
    else:
        torch.save(state, path)
    return path


def save_safetensors(net: nn.Module, path: Path, prefix: str = "") -> Path:
    save_file(
        {f"{prefix}{k}": v.detach().clone().contiguous() for k, v in net.state_dict().items()}, path
    )
    return path
