"""Seconds per StarGAN training step (conv_dim 64, 6 blocks, 128x128, batch 4) on this machine.

Both contenders update the critic and the generator on every step (``n_critic`` 1), so one
step times both halves of the reference's ``train`` loop; interleaved in one run:
- ``plain``: yunjey/stargan's solver written plainly (WGAN-GP, BCE classification,
  reconstruction), fp32, NCHW, per-tensor Adam;
- ``ours_fp32``: our FaceEditStep through the core TrainContext in fp32 (the framework's cost);
- ``ours_default``: the default precision (bf16 where the CPU has it; channels_last is off for
  InstanceNorm networks) and fused Adam, as ``imagexform train faceedit`` runs.
Prints JSON with medians and ratios (plain / ours: above 1 means ours is faster).

Run: .venv/bin/python benchmarks/train_step_faceedit.py [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from _timing import compare_with_plain, print_report

from imagexform_faceedit.config import FaceEditConfig
from imagexform_faceedit.family import FaceEditFamily


def plain_step_timer(config: FaceEditConfig, real: torch.Tensor, labels: torch.Tensor):
    torch.manual_seed(0)
    nets = FaceEditFamily().build(config)
    G, D = nets["G"], nets["D"]
    opt_g = torch.optim.Adam(G.parameters(), config.lr, (0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), config.lr_D, (0.5, 0.999))

    def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(logits)

    def step() -> None:
        target = labels[torch.randperm(len(labels))]
        out_src, out_cls = D(real)
        fake = G(real, target)
        fake_src, _ = D(fake.detach())
        alpha = torch.rand(len(real), 1, 1, 1)
        mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
        mixed_src, _ = D(mixed)
        (grad,) = torch.autograd.grad(
            mixed_src, mixed, torch.ones_like(mixed_src), create_graph=True
        )
        gp = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        d_loss = -out_src.mean() + fake_src.mean() + bce(out_cls, labels) + 10 * gp
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        fake = G(real, target)
        fake_src, fake_cls = D(fake)
        rebuilt = G(fake, labels)
        g_loss = -fake_src.mean() + 10 * (real - rebuilt).abs().mean() + bce(fake_cls, target)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = FaceEditConfig(batch_size=4, n_critic=1, steps=10**6)
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(4, 3, 128, 128, generator=generator) * 2 - 1
    labels = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0]])
    labels = labels.float()
    batch = {"image": real, "labels": labels}
    results = compare_with_plain(
        FaceEditFamily(), config, batch, plain_step_timer(config, real, labels), args.repeats
    )
    print_report(
        "StarGAN train step (critic + generator), 128x128, batch 4, CPU", args.repeats, results
    )


if __name__ == "__main__":
    main()
