"""Training speed on one device with our defaults, against plain loops written like the
reference implementations (fp32, NCHW, per-tensor Adam), and what the defaults cost in loss.

Three parts, each measured in this one run:
- ``step``: seconds per training step for pix2pix (unet_256, batch 1, 256²), ESRGAN's GAN
  stage (RRDBNet ×4, ``--esrgan-blocks`` blocks — 23 in the paper — VGG discriminator,
  perceptual + relativistic loss, batch 4 rather than 16, 128² crops) and, when its plugin is
  installed, CycleGAN (resnet_9blocks, batch 1, 256²): the plain loop, our step in fp32, and
  our step with the default precision (bf16 autocast + channels_last on CPUs with native bf16,
  fused Adam everywhere). Ratios are plain / ours (above 1: ours faster).
- ``convergence``: mean losses over the last 50 of 200 steps of small pix2pix and SRResNet
  runs on the same batches: fp32, fp32 with another seed (the noise), default precision.
- ``ddp``: pix2pix images per second through ``imagexform train`` on 2 processes (torchrun,
  gloo, one thread each, batch 2 each) against 1 process with 2 threads (batch 2), from the
  difference of two run lengths so start-up cancels out; best of two alternated attempts.

Run: .venv/bin/python benchmarks/train_speed.py [--repeats 3] [--esrgan-blocks 23] [--skip-ddp]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from _timing import compare_with_plain

from imagexform.family import Family, TrainConfig
from imagexform.train.context import TrainContext
from imagexform.train.device import choose_precision, cpu_has_fast_bf16
from imagexform.train.trainer import seed_everything
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.family import Pix2PixFamily
from imagexform_sr.config import SRConfig
from imagexform_sr.family import SuperResolutionFamily

CONVERGENCE_STEPS = 200
TAIL = 50


def step_part(repeats: int, esrgan_blocks: int) -> dict[str, Any]:
    from train_step_pix2pix import plain_step_timer as plain_pix2pix
    from train_step_sr import plain_step_timer as plain_sr

    generator = torch.Generator().manual_seed(0)
    results: dict[str, Any] = {}
    pix2pix = Pix2PixConfig(netG="unet_256", ngf=64, steps=10**6)
    a = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1
    b = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1
    results["pix2pix_unet256_batch1_256"] = compare_with_plain(
        Pix2PixFamily(), pix2pix, {"A": a, "B": b}, plain_pix2pix(pix2pix, a, b), repeats
    )

    esrgan = SRConfig(
        arch="rrdbnet",
        num_block=esrgan_blocks,
        batch_size=4,
        image_size=128,
        perceptual_weight=1.0,
        gan_weight=0.005,
        gan_mode="ragan",
        netD="vgg",
        ema_decay=0.999,
        steps=10**6,
    )
    high = torch.rand(4, 3, 128, 128, generator=generator)
    low = F.interpolate(high, scale_factor=0.25, mode="bicubic", antialias=True)
    results[f"esrgan_rrdb{esrgan_blocks}_vggD_batch4_128"] = compare_with_plain(
        SuperResolutionFamily(),
        esrgan,
        {"LR": low, "HR": high},
        plain_sr(esrgan, low, high),
        repeats,
    )

    cyclegan = _cyclegan()
    if cyclegan is None:
        results["cyclegan"] = "plugin or benchmarks/train_step_cyclegan.py not installed"
    else:
        family, config, batch, plain = cyclegan(generator)
        results["cyclegan_resnet9_batch1_256"] = compare_with_plain(
            family, config, batch, plain, repeats
        )
    return results


def _cyclegan() -> Callable | None:
    """CycleGAN's contenders, from its own benchmark, when that plugin exists here."""
    try:
        module = importlib.import_module("train_step_cyclegan")
    except ImportError:
        return None
    return getattr(module, "speed_contenders", None)


def synthetic_pairs(root: Path, count: int, size: int) -> Path:
    """Edge map | scene pairs drawn with OpenCV, in the aligned layout."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        scene = np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(6):
            centre = tuple(int(c) for c in rng.integers(0, size, 2))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            cv2.circle(scene, centre, int(rng.integers(4, size // 3)), colour, -1)
        edges = cv2.cvtColor(255 - cv2.Canny(scene, 50, 150), cv2.COLOR_GRAY2BGR)
        cv2.imwrite(str(root / f"{index}.png"), np.hstack([edges, scene]))
    return root


def loss_curve(
    family: Family, config: TrainConfig, data: Path, precision: str, seed: int
) -> dict[str, float]:
    """Mean of each logged loss over the last steps of a short run on fixed batches."""
    seed_everything(seed)
    device = torch.device("cpu")
    context = TrainContext(
        device, choose_precision(device, precision, config.channels_last), 0.0, config.steps
    )
    nets = {name: context.prepare(net) for name, net in family.build(config).items()}
    step = family.train_step(config, nets, context)
    dataset = family.dataset(config, data, "train")
    history: list[dict[str, float]] = []
    for index in range(CONVERGENCE_STEPS):
        items = [
            dataset[((index * config.batch_size + k) % len(dataset), index)]
            for k in range(config.batch_size)
        ]
        losses = step(context.to_device(torch.utils.data.default_collate(items)))
        history.append({key: float(value) for key, value in losses.items()})
    return {key: round(statistics.mean(h[key] for h in history[-TAIL:]), 4) for key in history[0]}


def convergence_part(work: Path) -> dict[str, Any]:
    pairs = synthetic_pairs(work / "pairs", 16, 64)
    photos = work / "photos"
    photos.mkdir()
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "immunohistochemistry",
        "motorcycle_left",
    ):
        source = Path(__file__).resolve().parents[1] / "assets" / "photos" / f"{name}.jpg"
        if source.is_file():
            cv2.imwrite(str(photos / f"{name}.png"), cv2.imread(str(source)))
    setups = {
        "pix2pix_unet64_ngf32_64px_batch4": (
            Pix2PixFamily(),
            Pix2PixConfig(
                netG="unet_64",
                ngf=32,
                ndf=32,
                image_size=64,
                load_size=64,
                batch_size=4,
                flip=False,
                steps=CONVERGENCE_STEPS,
            ),
            pairs,
        ),
        "srresnet_32x4_64px_batch4": (
            SuperResolutionFamily(),
            SRConfig(
                arch="srresnet",
                num_feat=32,
                num_block=4,
                image_size=64,
                batch_size=4,
                lr=1e-3,
                steps=CONVERGENCE_STEPS,
            ),
            photos,
        ),
    }
    report: dict[str, Any] = {}
    for name, (family, config, data) in setups.items():
        report[name] = {
            "fp32_seed0": loss_curve(family, config, data, "fp32", 0),
            "fp32_seed1": loss_curve(family, config, data, "fp32", 1),
            "default_seed0": loss_curve(family, config, data, "auto", 0),
        }
    return report


def ddp_part(work: Path) -> dict[str, Any]:
    data = synthetic_pairs(work / "ddp_pairs", 32, 64)
    settings = [
        "netG=unet_64",
        "ngf=32",
        "ndf=32",
        "image_size=64",
        "load_size=64",
        "batch_size=2",
        "save_every=0",
        "log_every=1000",
    ]

    def seconds(steps: int, processes: int, run: Path) -> float:
        sets = [part for item in [*settings, f"steps={steps}"] for part in ("--set", item)]
        cli = [
            "-m",
            "imagexform",
            "train",
            "pix2pix",
            "--data",
            str(data),
            "--out",
            str(run),
            *sets,
        ]
        threads = str(2 // processes)
        launcher = [sys.executable]
        if processes > 1:
            launcher += [
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={processes}",
            ]
        started = time.perf_counter()
        subprocess.run(
            [*launcher, *cli],
            check=True,
            capture_output=True,
            env={**os.environ, "OMP_NUM_THREADS": threads},
        )
        return time.perf_counter() - started

    # Alternate the two setups and keep each one's best, so other load on the machine
    # penalises neither more than the other.
    per_step: dict[int, float] = {1: float("inf"), 2: float("inf")}
    for attempt in range(2):
        for processes in (1, 2):
            short = seconds(20, processes, work / f"short{processes}_{attempt}")
            long = seconds(220, processes, work / f"long{processes}_{attempt}")
            per_step[processes] = min(per_step[processes], (long - short) / 200)
    report: dict[str, Any] = {
        f"{processes}_process": {
            "s_per_step": round(seconds_per_step, 3),
            "images_per_s": round(2 * processes / seconds_per_step, 2),
        }
        for processes, seconds_per_step in per_step.items()
    }
    report["ratio_2_over_1_images_per_s"] = round(
        report["2_process"]["images_per_s"] / report["1_process"]["images_per_s"], 2
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--esrgan-blocks", type=int, default=23)
    parser.add_argument("--skip-ddp", action="store_true")
    args = parser.parse_args()
    os.environ["IMAGEXFORM_TEST_RANDOM_VGG"] = "1"  # no weights download; same cost
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_has_fast_bf16": cpu_has_fast_bf16(),
        "load_average_at_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        report["step"] = step_part(args.repeats, args.esrgan_blocks)
        report["convergence"] = convergence_part(work)
        if not args.skip_ddp:
            report["ddp"] = ddp_part(work)
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
