"""Pickle-free serialisation of nested training state.

Optimizer, scaler and RNG states are trees of dicts, lists, tuples, numbers, tensors and numpy
arrays. Tensors and arrays go to a safetensors file; the tree around them goes to JSON with
typed markers, so loading executes no code and restores the exact values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

_TENSOR, _ARRAY, _TUPLE, _MAPPING = "__tensor__", "__ndarray__", "__tuple__", "__mapping__"


def _flatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(value, np.ndarray):
        key = str(len(tensors))
        tensors[key] = torch.from_numpy(
            value.astype(np.int64 if value.dtype.kind in "iu" else value.dtype)
        )
        return {_ARRAY: key, "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {_TUPLE: [_flatten(item, tensors) for item in value]}
    if isinstance(value, list):
        return [_flatten(item, tensors) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not any(
            key.startswith("__") and key.endswith("__") for key in value
        ):
            return {key: _flatten(item, tensors) for key, item in value.items()}
        return {_MAPPING: [[_flatten(k, tensors), _flatten(v, tensors)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} in training state")


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_unflatten(item, tensors) for item in value]
    if not isinstance(value, dict):
        return value
    if _TENSOR in value:
        return tensors[value[_TENSOR]]
    if _ARRAY in value:
        return tensors[value[_ARRAY]].numpy().astype(np.dtype(value["dtype"]))
    if _TUPLE in value:
        return tuple(_unflatten(item, tensors) for item in value[_TUPLE])
    if _MAPPING in value:
        return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in value[_MAPPING]}
    return {key: _unflatten(item, tensors) for key, item in value.items()}


def save_state(state: Any, tensors_path: Path, tree_path: Path) -> None:
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, tensors)
    save_file(tensors, str(tensors_path))
    tree_path.write_text(json.dumps(tree))


def load_state(tensors_path: Path, tree_path: Path) -> Any:
    tensors = load_file(str(tensors_path))
    return _unflatten(json.loads(tree_path.read_text()), tensors)
