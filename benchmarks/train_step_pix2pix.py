"""Seconds per pix2pix training step (unet_256, ngf 64, batch 1, 256x256) on this machine.

Compares, in one run and on the same networks and inputs:
- ``plain``: the reference's loop written plainly in PyTorch (forward G, D step, G step);
- ``step``: our Pix2PixStep through the core TrainContext (what the trainer calls per step),
  in fp32 like the plain loop, so the ratio is the cost of our framework alone;
- ``trainer``: the whole core Trainer loop, data loading and augmentation included, on
  generated 256x256 pairs, per step after a warm-up.
Prints JSON with medians and ratios (plain / ours: above 1 means ours is faster).

Run: .venv/bin/python benchmarks/train_step_pix2pix.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from _timing import core_step_timer, interleaved_medians

from imagexform.train.trainer import Trainer
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.family import Pix2PixFamily
from imagexform_pix2pix.networks import build_discriminator, build_generator


def plain_step_timer(config: Pix2PixConfig, real_a: torch.Tensor, real_b: torch.Tensor):
    torch.manual_seed(0)
    G, D = build_generator(config), build_discriminator(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()

    def step() -> None:
        fake_b = G(real_a)
        for p in D.parameters():
            p.requires_grad = True
        opt_d.zero_grad()
        pred_fake = D(torch.cat((real_a, fake_b.detach()), 1))
        pred_real = D(torch.cat((real_a, real_b), 1))
        loss_d = 0.5 * (
            bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real))
        )
        loss_d.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad = False
        opt_g.zero_grad()
        pred_fake = D(torch.cat((real_a, fake_b), 1))
        loss_g = bce(pred_fake, torch.ones_like(pred_fake)) + 100.0 * F.l1_loss(fake_b, real_b)
        loss_g.backward()
        opt_g.step()

    return step


def trainer_seconds_per_step(config: Pix2PixConfig, repeats: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "pairs"
        root.mkdir()
        rng = np.random.default_rng(0)
        for index in range(8):
            image = cv2.GaussianBlur(rng.integers(0, 256, (256, 512, 3), dtype=np.uint8), (9, 9), 3)
            cv2.imwrite(str(root / f"{index}.png"), image)
        timings = {}
        for steps in (2, 2 + repeats):
            run_config = Pix2PixConfig(**{**config.to_dict(), "steps": steps})
            trainer = Trainer(
                Pix2PixFamily(),
                run_config,
                data_root=root,
                run_dir=Path(scratch) / f"run{steps}",
                device="cpu",
            )
            started = time.perf_counter()
            trainer.run()
            timings[steps] = time.perf_counter() - started
        return (timings[2 + repeats] - timings[2]) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    config = Pix2PixConfig(
        netG="unet_256",
        ngf=64,
        batch_size=1,
        image_size=256,
        load_size=256,
        flip=False,
        log_every=10**9,
        sample_every=0,
        save_every=0,
        val_every=0,
        keep_last=1,
    )
    generator = torch.Generator().manual_seed(0)
    real_a = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1
    real_b = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1

    medians = interleaved_medians(
        {
            "plain": plain_step_timer(config, real_a, real_b),
            "ours": core_step_timer(Pix2PixFamily(), config, {"A": real_a, "B": real_b}, "fp32"),
        },
        args.repeats,
    )
    plain, ours = medians["plain"], medians["ours"]
    trainer = trainer_seconds_per_step(config, args.repeats)
    print(
        json.dumps(
            {
                "benchmark": "pix2pix train step, unet_256 ngf 64, batch 1, 256x256, CPU fp32",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "repeats": args.repeats,
                "plain_pytorch_s_per_step": round(plain, 4),
                "our_step_s_per_step": round(ours, 4),
                "our_trainer_s_per_step": round(trainer, 4),
                "ratio_plain_over_step": round(plain / ours, 3),
                "ratio_plain_over_trainer": round(plain / trainer, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
