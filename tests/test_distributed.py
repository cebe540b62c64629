"""Training under ``torchrun`` on CPU (gloo): two processes act as one run with twice the batch.

Each rank draws a disjoint share of every epoch and gradients are averaged, so two ranks with
batch 1 take the same steps as one process with batch 2 (for losses that are means over the
batch and networks without batch statistics): the weights must agree to float rounding. Rank 0
alone speaks and saves; resume and interruption work as in one process.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from imagexform.data.sampling import ResumableSampler
from imagexform.errors import ConfigError
from imagexform.train.distributed import sync_batchnorm
from imagexform.train.restore import load_trained

PIX2PIX = [
    "netG=unet_32",
    "ngf=8",
    "ndf=8",
    "image_size=32",
    "load_size=36",
    "norm=instance",  # BatchNorm statistics would differ between one batch of 2 and two of 1
    "dropout=false",
    "precision=fp32",  # bf16 kernels may round a batch of 2 differently from two of 1
    "log_every=1",
    "save_every=0",
]
SR = ["arch=srresnet", "num_feat=8", "num_block=1", "image_size=32", "ema_decay=0.9"]
SR += ["precision=fp32"]


def command(family: str, data: Path, run: Path, settings: list[str], processes: int) -> list[str]:
    launcher = [sys.executable, "-m", "imagexform"]
    if processes > 1:
        launcher = [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
            *("--nproc_per_node", str(processes), "-m", "imagexform"),
        ]
    sets = [part for item in settings for part in ("--set", item)]
    return [*launcher, "train", family, "--data", str(data), "--out", str(run), *sets]


def train(*args, processes: int = 2) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command(*args, processes=processes),
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def outputs(run: Path) -> dict[str, torch.Tensor]:
    """Every network of the run's latest checkpoint on one fixed input.

    Outputs, not weights, are compared: a conv bias followed by instance norm gets a gradient
    that is zero but for rounding, and Adam turns rounding noise of either sign into a full
    ±lr step, so such biases differ between the runs while changing nothing the nets compute.
    """
    trained = load_trained(run, use_ema=False)
    probe = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    results = {}
    with torch.no_grad():
        for name, net in trained.nets.items():
            channels = next(p for p in net.parameters() if p.dim() == 4).shape[1]
            results[name] = net.eval()(probe.repeat(1, channels // 3, 1, 1)[:, :channels])
    return results


def assert_same_outputs(first: Path, second: Path) -> None:
    a, b = outputs(first), outputs(second)
    assert a.keys() == b.keys()
    worst = max(float((a[name] - b[name]).abs().max()) for name in a)
    assert worst < 1e-4, f"outputs differ by up to {worst}"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = cv2.imread(f"assets/photos/{name}.jpg")
        cv2.imwrite(str(folder / f"{name}.png"), cv2.resize(image, (48, 48)))
    return folder


def test_ranks_split_each_epoch_disjointly():
    def first(sampler: ResumableSampler, count: int) -> list[int]:
        return [index for index, _seed in itertools.islice(iter(sampler), count)]

    draws = [first(ResumableSampler(10, seed=3, rank=rank, world_size=2), 5) for rank in (0, 1)]
    assert sorted(draws[0] + draws[1]) == list(range(10))
    order = first(ResumableSampler(10, seed=3), 10)
    assert order[0::2] == draws[0] and order[1::2] == draws[1]


def test_two_pix2pix_ranks_equal_one_process_with_twice_the_batch(make_pairs, tmp_path):
    data = make_pairs(count=6)
    pair = train("pix2pix", data, tmp_path / "ddp", [*PIX2PIX, "steps=3", "batch_size=1"])
    train(
        "pix2pix",
        data,
        tmp_path / "single",
        [*PIX2PIX, "steps=3", "batch_size=2"],
        processes=1,
    )
    assert_same_outputs(tmp_path / "ddp", tmp_path / "single")
    assert pair.stdout.count("finished at step 3") == 1  # rank 0 alone reports
    saved = sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir())
    assert saved == ["latest", "step_00000003"]

    resumed = train("pix2pix", data, tmp_path / "ddp", [*PIX2PIX, "steps=5", "batch_size=1"])
    assert resumed.stderr.count("resuming") == 1
    assert "finished at step 5" in resumed.stdout
    train("pix2pix", data, tmp_path / "single", [*PIX2PIX, "steps=5", "batch_size=2"], processes=1)
    assert_same_outputs(tmp_path / "ddp", tmp_path / "single")


def test_two_sr_ranks_equal_one_process_with_twice_the_batch(photos, tmp_path):
    train("sr", photos, tmp_path / "ddp", [*SR, "steps=3", "batch_size=1"])
    train("sr", photos, tmp_path / "single", [*SR, "steps=3", "batch_size=2"], processes=1)
    assert_same_outputs(tmp_path / "ddp", tmp_path / "single")


def test_an_interrupted_two_process_run_saves_once_and_resumes(make_pairs, tmp_path):
    data, run = make_pairs(count=6), tmp_path / "run"
    settings = [*PIX2PIX, "batch_size=1", "steps=100000", "log_every=1"]
    process = subprocess.Popen(
        command("pix2pix", data, run, settings, processes=2),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the launcher and both workers
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    # Interrupt once rank 0 reports its first finished step (it logs every step here).
    assert process.stderr is not None
    before = []
    for line in process.stderr:
        before.append(line)
        if line.startswith("step 1/"):
            break
    assert before and before[-1].startswith("step 1/"), "".join(before)
    os.killpg(process.pid, signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    stderr = "".join(before) + rest
    assert process.returncode != 0
    assert stderr.count("interrupted at step") <= 1
    step = int((run / "checkpoints" / "latest").read_text().strip().removeprefix("step_"))
    assert 0 < step < 100000

    resumed = train("pix2pix", data, run, [*PIX2PIX, "batch_size=1", f"steps={step + 2}"])
    assert f"resuming {run / 'checkpoints' / f'step_{step:08d}'}" in resumed.stderr
    assert f"finished at step {step + 2}" in resumed.stdout
    assert all(torch.isfinite(output).all() for output in outputs(run).values())


def test_sync_batchnorm_converts_on_cuda_and_refuses_the_cpu():
    nets = {"G": torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))}
    with pytest.raises(ConfigError, match="sync_batchnorm needs CUDA"):
        sync_batchnorm(nets, torch.device("cpu"))
    if torch.cuda.is_available():
        converted = sync_batchnorm(nets, torch.device("cuda"))
        assert isinstance(converted["G"][1], torch.nn.SyncBatchNorm)
