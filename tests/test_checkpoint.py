"""Checkpoints: atomic saves, latest pointer, pruning, pickle-free state, clear load errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from imagexform.errors import CheckpointError
from imagexform.train.checkpoint import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


def save(run: Path, step: int, family: str = "pix2pix", keep_last: int = 3, state=None) -> Path:
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return save_checkpoint(
        run,
        step=step,
        meta={"family": family, "config": {"steps": 10}},
        weights={"G": net.state_dict()},
        ema={"G": {k: v * 0 for k, v in net.state_dict().items()}},
        state=state
        if state is not None
        else {
            "optimizers": {"G": optimizer.state_dict()},
            "rng": {"python": random.getstate(), "numpy": np.random.get_state()},
        },
        keep_last=keep_last,
    )


def test_round_trip_restores_weights_and_training_state(tmp_path: Path):
    path = save(tmp_path, 5)
    loaded = load_checkpoint(tmp_path, expected_family="pix2pix")
    assert loaded.path == path and loaded.step == 5 and loaded.family == "pix2pix"
    assert set(loaded.weights["G"]) == {"weight", "bias"}
    assert torch.count_nonzero(loaded.ema["G"]["weight"]) == 0
    optimizer_state = loaded.state["optimizers"]["G"]
    assert set(optimizer_state["state"]) == {0, 1}  # integer keys survive
    assert optimizer_state["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples survive
    np_state = loaded.state["rng"]["numpy"]
    assert np_state[1].dtype == np.uint32
    np.random.set_state(np_state)
    random.setstate(loaded.state["rng"]["python"])


def test_latest_points_to_newest_and_old_ones_are_pruned(tmp_path: Path):
    for step in (1, 2, 3, 4):
        save(tmp_path, step, keep_last=2)
    names = [p.name for p in list_checkpoints(tmp_path / "checkpoints")]
    assert names == ["step_00000003", "step_00000004"]
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    assert find_checkpoint(tmp_path).name == "step_00000004"


def test_failed_save_leaves_previous_checkpoint_and_no_partial_files(tmp_path: Path):
    save(tmp_path, 1)
    with pytest.raises(TypeError, match="cannot serialise"):
        save(tmp_path, 2, state={"bad": object()})
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step_00000001"]
    assert load_checkpoint(tmp_path).step == 1


def test_incomplete_checkpoint_is_a_clear_error(tmp_path: Path):
    path = save(tmp_path, 3)
    (path / "weights.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"incomplete checkpoint, missing weights\."):
        load_checkpoint(tmp_path)


def test_checkpoint_of_another_family_is_refused(tmp_path: Path):
    save(tmp_path, 3, family="cyclegan")
    with pytest.raises(CheckpointError, match="for family 'cyclegan', not 'pix2pix'"):
        load_checkpoint(tmp_path, expected_family="pix2pix")


def test_missing_and_empty_paths(tmp_path: Path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_checkpoint(tmp_path)


def test_meta_that_is_not_ours_is_refused(tmp_path: Path):
    path = save(tmp_path, 3)
    (path / "meta.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not an imagexform checkpoint"):
        load_checkpoint(path)
