"""Training pix2pix end to end on tiny generated pairs, through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from imagexform.cli import cli
from imagexform.train.restore import load_trained

TINY = [
    "netG=unet_32",
    "ngf=8",
    "ndf=8",
    "image_size=32",
    "load_size=36",
    "batch_size=2",
    "log_every=1",
]


def settings(*extra: str) -> list[str]:
    args = []
    for item in [*TINY, *extra]:
        args += ["--set", item]
    return args


def train(data: Path | None, run: Path, *extra: str, options: tuple[str, ...] = ()):
    args = ["train", "pix2pix", "--out", str(run), "--device", "cpu", *options, *settings(*extra)]
    if data is not None:
        args += ["--data", str(data)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def weights(run: Path) -> dict[str, torch.Tensor]:
    latest = (run / "checkpoints" / "latest").read_text().strip()
    return load_file(str(run / "checkpoints" / latest / "weights.safetensors"))


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_train_writes_complete_self_describing_checkpoint(make_pairs, tmp_path):
    data = make_pairs(count=6, splits=("train", "val"))
    run = tmp_path / "run"
    result = train(data, run, "steps=3", "sample_every=2", "val_every=2")
    assert result.exit_code == 0, result.output
    assert "finished at step 3" in result.output
    assert "val/psnr" in result.output

    checkpoint = run / "checkpoints" / "step_00000003"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "meta.json",
        "state.json",
        "state.safetensors",
        "weights.safetensors",
    ]
    meta = json.loads((checkpoint / "meta.json").read_text())
    assert meta["family"] == "pix2pix" and meta["plugin"] == "pix2pix" and meta["step"] == 3
    assert meta["config"]["netG"] == "unet_32" and meta["io_spec"]["size_multiple"] == 32
    assert {key.split(".")[0] for key in load_file(str(checkpoint / "weights.safetensors"))} == {
        "G",
        "D",
    }

    grid = cv2.imread(str(run / "samples" / "step_00000003.png"))
    assert grid.shape == (4 * 32, 3 * 32, 3)  # 4 val rows of input | output | target
    assert any((run / "tensorboard").iterdir())

    # Loading needs no flag: architecture and family come from the checkpoint itself.
    trained = load_trained(run)
    assert trained.family.name == "pix2pix" and trained.config.ngf == 8
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        output = trained.nets["G"](image)
    assert output.shape == image.shape and torch.isfinite(output).all()
    assert output.abs().max() <= 1.0


def test_resume_with_more_steps_continues_bit_identically(make_pairs, tmp_path):
    data = make_pairs(count=5)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train(data, straight, "steps=6", "lr_schedule=constant").exit_code == 0
    assert train(data, split, "steps=3", "lr_schedule=constant").exit_code == 0
    resumed = train(None, split, "steps=6", options=("--resume",))  # data path comes from meta
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output and "finished at step 6" in resumed.output
    assert_same_weights(straight, split)


def test_checkpoint_meta_names_no_absolute_path_and_a_moved_project_resumes(make_pairs, tmp_path):
    """Invariant 5: local paths (the data, path settings) are kept relative to the
    checkpoint's folder, so a project copied elsewhere with its data resumes from there."""
    project = tmp_path / "project"
    data = make_pairs(count=5, name="project/pairs")
    run = project / "run"
    assert train(data, run, "steps=2").exit_code == 0
    meta_text = (run / "checkpoints" / "step_00000002" / "meta.json").read_text()
    assert str(tmp_path) not in meta_text
    assert json.loads(meta_text)["data_root"] == os.path.join("..", "..", "..", "pairs")

    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(project, moved)
    resumed = train(None, moved / "run", "steps=3", options=("--resume",))
    assert resumed.exit_code == 0, resumed.output
    assert "finished at step 3" in resumed.output


def test_interrupted_run_resumes_bit_identically(make_pairs, tmp_path):
    """Ctrl-C in a real process saves a checkpoint; resuming ends where a straight run does."""
    data = make_pairs(count=5)
    # Enough steps that the interrupt sent at step 3 lands before the run ends on its own,
    # even when the parent is slow to read the log on a loaded machine.
    steps = "steps=150"
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    command = [sys.executable, "-m", "imagexform", "train", "pix2pix", "--data", str(data)]
    command += ["--out", str(interrupted), "--device", "cpu", *settings(steps)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if line.startswith("step 3/") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted at step" in stderr
    stopped_at = json.loads(
        (
            interrupted
            / "checkpoints"
            / (interrupted / "checkpoints" / "latest").read_text().strip()
            / "meta.json"
        ).read_text()
    )["step"]
    assert 3 <= stopped_at < 150

    assert train(data, interrupted, steps).exit_code == 0
    assert train(data, straight, steps).exit_code == 0
    assert_same_weights(straight, interrupted)


def test_early_stopping_when_the_metric_stops_improving(make_pairs, tmp_path):
    data = make_pairs(count=4, splits=("train", "val"))
    run = tmp_path / "run"
    result = train(
        data,
        run,
        "steps=50",
        "lr=1e-30",  # nothing changes, so the metric never improves
        "val_every=1",
        "early_stop_metric=val/l1",
        "early_stop_mode=min",
        "early_stop_patience=2",
    )
    assert result.exit_code == 0, result.output
    assert "early stop at step 3" in result.output
    assert (run / "checkpoints" / "step_00000003").is_dir()


def test_unknown_early_stop_metric_names_the_available_ones(make_pairs, tmp_path):
    data = make_pairs(count=4, splits=("train", "val"))
    result = train(data, tmp_path / "run", "steps=2", "val_every=1", "early_stop_metric=val/fid")
    assert result.exit_code == 2
    assert (
        "early_stop_metric 'val/fid' is not computed; available: val/l1, val/psnr" in result.output
    )


def test_early_stopping_without_validation_split_is_refused(make_pairs, tmp_path):
    result = train(make_pairs(count=2), tmp_path / "run", "steps=2", "early_stop_metric=val/l1")
    assert result.exit_code == 2
    assert "needs a validation split" in result.output


def test_ema_weights_are_saved_and_used_for_loading(make_pairs, tmp_path):
    run = tmp_path / "run"
    assert train(make_pairs(count=4), run, "steps=3", "ema_decay=0.5").exit_code == 0
    latest = run / "checkpoints" / "step_00000003"
    ema = load_file(str(latest / "ema.safetensors"))
    raw = load_file(str(latest / "weights.safetensors"))
    assert set(ema) == {key for key in raw if key.startswith("G.")}
    assert not torch.equal(ema["G.model.model.0.weight"], raw["G.model.model.0.weight"])
    averaged = load_trained(run, use_ema=True).nets["G"].state_dict()["model.model.0.weight"]
    assert torch.equal(averaged, ema["G.model.model.0.weight"])


@pytest.mark.parametrize("gan_mode", ["lsgan", "hinge", "wgangp"])
def test_gan_modes_train_with_finite_losses(make_pairs, tmp_path, gan_mode):
    extra = ["steps=2", f"gan_mode={gan_mode}", "grad_clip=1.0", "instance_noise=0.1"]
    extra += ["norm=instance", "netD=pixel"] if gan_mode == "hinge" else []
    result = train(make_pairs(count=4), tmp_path / "run", *extra)
    assert result.exit_code == 0, result.output
    if gan_mode == "wgangp":
        assert " gp " in result.output  # the penalty is computed and logged


def test_resnet_generator_and_folder_layout(make_pairs, tmp_path):
    data = make_pairs(count=4, layout="folders")
    result = train(data, tmp_path / "run", "steps=2", "netG=resnet_6blocks", "direction=BtoA")
    assert result.exit_code == 0, result.output


def test_bf16_autocast_on_cpu_keeps_fp32_weights(make_pairs, tmp_path):
    run = tmp_path / "run"
    result = train(make_pairs(count=4), run, "steps=2", "precision=bf16")
    assert result.exit_code == 0, result.output
    assert "device cpu, bfloat16 autocast" in result.output
    assert all(
        tensor.dtype == torch.float32
        for tensor in weights(run).values()
        if tensor.is_floating_point()
    )
