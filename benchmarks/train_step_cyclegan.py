"""Seconds per CycleGAN training step (resnet_9blocks, ngf 64, batch 1, 256x256) on this machine.

Compares, in one run and on the same networks and inputs, contenders interleaved:
- ``plain``: the reference's ``optimize_parameters`` written plainly in PyTorch (both
  generators with LSGAN + cycle + identity losses, then both discriminators on pooled fakes),
  fp32, NCHW, per-tensor Adam;
- ``ours_fp32``: our CycleGANStep through the core TrainContext in fp32 (the framework's cost);
- ``ours_default``: the same with the default precision (bf16 + channels_last where the CPU
  has native bf16) and fused Adam, as ``imagexform train cyclegan`` runs.
Prints JSON with medians and ratios (plain / ours: above 1 means ours is faster).
``benchmarks/train_speed.py`` includes these contenders through :func:`speed_contenders`.

Run: .venv/bin/python benchmarks/train_step_cyclegan.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from _timing import compare_with_plain, print_report

from imagexform_cyclegan.config import CycleGANConfig
from imagexform_cyclegan.family import CycleGANFamily


def plain_step_timer(config: CycleGANConfig, real_a: torch.Tensor, real_b: torch.Tensor):
    torch.manual_seed(0)
    nets = CycleGANFamily().build(config)
    G_A, G_B, D_A, D_B = (nets[name] for name in ("G_A", "G_B", "D_A", "D_B"))
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), 2e-4, betas)
    opt_d = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), 2e-4, betas)
    pools: dict[str, list[torch.Tensor]] = {"A": [], "B": []}

    def pooled(name: str, fake: torch.Tensor) -> torch.Tensor:
        pool = pools[name]
        if len(pool) < 50:
            pool.append(fake.detach())
            return fake.detach()
        if random.random() > 0.5:
            slot = random.randrange(50)
            old, pool[slot] = pool[slot], fake.detach()
            return old
        return fake.detach()

    def gan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
        return F.mse_loss(prediction, target)

    def step() -> None:
        fake_b = G_A(real_a)
        rec_a = G_B(fake_b)
        fake_a = G_B(real_b)
        rec_b = G_A(fake_a)
        for p in itertools.chain(D_A.parameters(), D_B.parameters()):
            p.requires_grad = False
        opt_g.zero_grad()
        loss_idt_a = F.l1_loss(G_A(real_b), real_b) * 10.0 * 0.5
        loss_idt_b = F.l1_loss(G_B(real_a), real_a) * 10.0 * 0.5
        loss_g = (
            gan(D_A(fake_b), True)
            + gan(D_B(fake_a), True)
            + F.l1_loss(rec_a, real_a) * 10.0
            + F.l1_loss(rec_b, real_b) * 10.0
            + loss_idt_a
            + loss_idt_b
        )
        loss_g.backward()
        opt_g.step()
        for p in itertools.chain(D_A.parameters(), D_B.parameters()):
            p.requires_grad = True
        opt_d.zero_grad()
        for D, real, fake in (
            (D_A, real_b, pooled("B", fake_b)),
            (D_B, real_a, pooled("A", fake_a)),
        ):
            loss_d = 0.5 * (gan(D(real), True) + gan(D(fake), False))
            loss_d.backward()
        opt_d.step()

    return step


def reference_config() -> CycleGANConfig:
    return CycleGANConfig(netG="resnet_9blocks", ngf=64, ndf=64, batch_size=1, steps=10**6)


def speed_contenders(
    generator: torch.Generator,
) -> tuple[CycleGANFamily, CycleGANConfig, dict[str, Any], Callable[[], None]]:
    """What train_speed.py compares: family, config, one batch and the plain loop."""
    config = reference_config()
    real_a = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1
    real_b = torch.rand(1, 3, 256, 256, generator=generator) * 2 - 1
    return (
        CycleGANFamily(),
        config,
        {"A": real_a, "B": real_b},
        plain_step_timer(config, real_a, real_b),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    family, config, batch, plain = speed_contenders(torch.Generator().manual_seed(0))
    results = compare_with_plain(family, config, batch, plain, args.repeats)
    print_report(
        "CycleGAN train step, resnet_9blocks ngf 64, batch 1, 256x256, CPU", args.repeats, results
    )


if __name__ == "__main__":
    main()
