"""Recognising a junyanz generator file (pix2pix and CycleGAN's ``UnetGenerator`` and
``ResnetGenerator``) from its keys and tensor shapes.

Those files store no constructor settings (the reference asks the user for ``--netG``,
``--ngf`` and ``--norm``), so the importer reads them off the layout and then confirms the
guess by building the network.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TypedDict

import torch
from torch import Tensor, nn

from imagexform.plugin_api import (
    MIN_UNET_DOWNS,
    N_DOWNSAMPLING,
    NormName,
    ResnetGenerator,
    UnetGenerator,
    patch_instance_norm_state,
    strip_wrappers,
)


class GeneratorSettings(TypedDict):
    """Constructor settings of a junyanz-layout generator, named as in its ``define_G``."""

    netG: str  # "unet_<2**num_downs>" or "resnet_<n>blocks"
    ngf: int
    norm: NormName
    input_nc: int
    output_nc: int
    # Only ResNet checkpoints record dropout (it shifts a key index); None means "not stored".
    dropout: bool | None


def detect_image_generator(state: object) -> GeneratorSettings | None:
    """Recognise a junyanz ``UnetGenerator`` or ``ResnetGenerator`` state dict and return the
    settings that rebuild it, or None when ``state`` is anything else.

    Those files store no settings (the reference asks the user for ``--netG``, ``--ngf`` and
    ``--norm``), so they are read off the layout. The guess is then confirmed: a network built
    with the guessed settings must have exactly the file's keys and shapes, so a lookalike
    from another code base is rejected instead of half-loaded.
    """
    if not _is_tensor_dict(state):
        return None
    state = strip_wrappers(state)
    found = _detect(state)
    if found is None:
        return None
    settings, build = found
    return settings if _layout_problem(build, state) is None else None


def generator_mismatch(state: object) -> str | None:
    """For a file whose key names are a junyanz generator's but whose tensor shapes are not
    (a damaged or edited file), what differs first; None for anything else. Lets the
    importer say why it refuses a file that looks like one of its own."""
    if not _is_tensor_dict(state):
        return None
    state = strip_wrappers(state)
    found = _detect(state)
    if found is None:
        return None
    settings, build = found
    problem = _layout_problem(build, state)
    if problem is None or not problem.startswith("tensor "):
        return None
    return (
        f"looks like a junyanz {settings['netG']} generator (ngf {settings['ngf']}), but {problem}"
    )


def _detect(state: Mapping[str, Tensor]) -> _Detected | None:
    for detect in (_detect_unet, _detect_resnet):
        found = detect(state)
        if found is not None:
            return found
    return None


def _is_tensor_dict(state: object) -> bool:
    return (
        isinstance(state, Mapping)
        and len(state) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())
    )


def _shape(state: Mapping[str, Tensor], key: str, ndim: int) -> tuple[int, ...] | None:
    tensor = state.get(key)
    if tensor is None or tensor.ndim != ndim:
        return None
    return tuple(tensor.shape)


def _norm(state: Mapping[str, Tensor], first_conv: str, first_norm: str) -> NormName:
    """Tell the norm from the first conv that the reference follows with a norm layer.

    Batch norm leaves ``weight`` with ``running_mean``. Affine-free instance norm leaves no
    entries (legacy files: running stats without a weight), but the reference then gives the
    convolutions a bias. With ``none`` the reference uses an Identity and, by the same rule,
    no bias — so a bias without norm parameters means instance and neither means none; the
    three cases do not overlap for files the reference wrote.
    """
    if f"{first_norm}.weight" in state and f"{first_norm}.running_mean" in state:
        return "batch"
    if f"{first_conv}.bias" in state or f"{first_norm}.running_mean" in state:
        return "instance"
    return "none"


# U-Net: the outermost block's Sequential is [down conv, inner block, relu, up conv, tanh]; each
# inner block is [relu, down conv, norm, inner block, relu, up conv, norm(, dropout)], the
# innermost [relu, down conv, relu, up conv, norm]. Conv-transpose weights are (in, out, k, k).
_UNET_OUTER_DOWN = "model.model.0.weight"  # (ngf, input_nc, 4, 4)
_UNET_OUTER_UP = "model.model.3.weight"  # (2·ngf, output_nc, 4, 4)
_UNET_SECOND_LEVEL = "model.model.1"
_UNET_INNER_BLOCK = ".model.3"

# A guess: the settings, and how to build the network they describe (to confirm the guess).
_Detected = tuple[GeneratorSettings, Callable[[], nn.Module]]


def _detect_unet(state: Mapping[str, Tensor]) -> _Detected | None:
    down = _shape(state, _UNET_OUTER_DOWN, 4)
    up = _shape(state, _UNET_OUTER_UP, 4)
    if down is None or up is None:
        return None
    block, num_downs = _UNET_SECOND_LEVEL, 2
    while f"{block}{_UNET_INNER_BLOCK}.model.1.weight" in state:
        block += _UNET_INNER_BLOCK
        num_downs += 1
    if num_downs < MIN_UNET_DOWNS:
        return None
    settings = GeneratorSettings(
        netG=f"unet_{2**num_downs}",
        ngf=down[0],
        norm=_norm(state, "model.model.0", f"{_UNET_SECOND_LEVEL}.model.2"),
        input_nc=down[1],
        output_nc=up[1],
        dropout=None,  # U-Net dropout layers come last in their block: no key records them
    )
    build = functools.partial(
        UnetGenerator,
        settings["input_nc"],
        settings["output_nc"],
        num_downs,
        ngf=settings["ngf"],
        norm=settings["norm"],
    )
    return settings, build


# ResNet: model = [pad, conv, norm, relu] + 2 × [conv, norm, relu] + n residual blocks
# + 2 × [conv transpose, norm, relu] + [pad, conv, tanh]. A block's conv_block is
# [pad, conv, norm, relu, (dropout,) pad, conv, norm].
_RESNET_FIRST_CONV = "model.1"  # weight (ngf, input_nc, 7, 7)
_RESNET_FIRST_NORM = "model.2"
_RESNET_FIRST_BLOCK = 4 + 3 * N_DOWNSAMPLING
# From the first index after the blocks to the last conv: the upsampling triplets and a pad.
_RESNET_AFTER_BLOCKS = 3 * N_DOWNSAMPLING + 1


def _detect_resnet(state: Mapping[str, Tensor]) -> _Detected | None:
    first = _shape(state, f"{_RESNET_FIRST_CONV}.weight", 4)
    if first is None:
        return None
    n_blocks = 0
    while any(k.startswith(f"model.{_RESNET_FIRST_BLOCK + n_blocks}.conv_block.") for k in state):
        n_blocks += 1
    last = _shape(state, f"model.{_RESNET_FIRST_BLOCK + n_blocks + _RESNET_AFTER_BLOCKS}.weight", 4)
    if n_blocks == 0 or last is None:
        return None
    settings = GeneratorSettings(
        netG=f"resnet_{n_blocks}blocks",
        ngf=first[0],
        norm=_norm(state, _RESNET_FIRST_CONV, _RESNET_FIRST_NORM),
        input_nc=first[1],
        output_nc=last[0],
        # Dropout moves the second conv from index 5 to 6, where batch norm would otherwise be.
        dropout=_shape(state, f"model.{_RESNET_FIRST_BLOCK}.conv_block.6.weight", 4) is not None,
    )
    build = functools.partial(
        ResnetGenerator,
        settings["input_nc"],
        settings["output_nc"],
        ngf=settings["ngf"],
        norm=settings["norm"],
        dropout=bool(settings["dropout"]),
        n_blocks=n_blocks,
    )
    return settings, build


def _layout_problem(build: Callable[[], nn.Module], state: Mapping[str, Tensor]) -> str | None:
    """None when the network ``build`` makes has exactly the keys and shapes of ``state``,
    else the first difference.

    The network is built on the meta device, which allocates nothing, so checking even a
    full-size U-Net costs milliseconds. BatchNorm ``num_batches_tracked`` may be missing: files
    from before PyTorch 0.4.1 lack it, and ``load_state_dict`` fills it in for them.
    """
    try:
        with torch.device("meta"):
            net = build()
    except (ValueError, RuntimeError):  # shapes no network of this kind can have
        return "no network of this kind has these shapes"
    expected = {key: tuple(t.shape) for key, t in net.state_dict().items()}
    actual = {key: tuple(t.shape) for key, t in patch_instance_norm_state(net, state).items()}
    unexpected = [key for key in actual if key not in expected]
    if unexpected:
        return f"unexpected key {unexpected[0]}"
    missing = [k for k in expected if k not in actual and not k.endswith(".num_batches_tracked")]
    if missing:
        return f"missing key {missing[0]}"
    for key, shape in actual.items():
        if expected[key] != shape:
            return f"tensor {key} has shape {list(shape)} where {list(expected[key])} fits"
    return None
