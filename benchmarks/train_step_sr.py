"""Seconds per super-resolution training step on this machine: ours against a plain loop.

Two stages as BasicSR trains them, each timed on the same networks and inputs in one run,
the contenders interleaved:
- ``psnr``: MSRResNet ×4 (num_feat 64, 16 blocks), L1, batch 16, 128² HR crops (BasicSR's
  ``train_MSRResNet_x4``);
- ``gan``: RRDBNet ×4 (num_feat 64, ``--gan-blocks`` blocks, 23 in ESRGAN: too slow for two
  CPU cores) with the VGG-style discriminator, L1 + perceptual (VGG19 conv5_4 before
  activation, randomly initialised here: weights do not change the cost) + relativistic GAN
  loss, batch 4, 128² HR crops.
``plain`` is the loop written plainly in PyTorch (as BasicSR's ``SRModel``/``ESRGANModel``
optimise); ``ours`` is the SR plugin's step through the core TrainContext plus the core EMA
update the trainer applies after it (both contenders keep an EMA with decay 0.999), in fp32
like the plain loop, so the ratio is the cost of our framework alone (benchmarks/train_speed.py
compares our default precision).
Prints JSON with medians and ratios (plain / ours: above 1 means ours is faster).

Run: .venv/bin/python benchmarks/train_step_sr.py [--repeats 5] [--gan-blocks 6]
"""

from __future__ import annotations

import argparse
import copy
import json
import os

import torch
import torch.nn.functional as F
import torchvision
from _timing import core_step_timer, interleaved_medians

from imagexform_sr.config import SRConfig
from imagexform_sr.family import SuperResolutionFamily

EMA_DECAY = 0.999


def plain_ema(net: torch.nn.Module):
    average = copy.deepcopy(net).requires_grad_(False)

    @torch.no_grad()
    def update() -> None:
        for kept, live in zip(average.parameters(), net.parameters(), strict=True):
            kept.mul_(EMA_DECAY).add_(live, alpha=1 - EMA_DECAY)

    return update


def plain_step_timer(config: SRConfig, low: torch.Tensor, high: torch.Tensor):
    torch.manual_seed(0)
    nets = SuperResolutionFamily().build(config)
    G, D = nets["G"], nets.get("D")
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.9, 0.99))
    opt_d = (
        None if D is None else torch.optim.Adam(D.parameters(), lr=config.lr_D, betas=(0.9, 0.99))
    )
    update_ema = plain_ema(G)
    vgg = None
    if config.perceptual_weight > 0:
        vgg = torchvision.models.vgg19().features[:35].eval().requires_grad_(False)

    def step() -> None:
        opt_g.zero_grad()
        output = G(low)
        loss = F.l1_loss(output, high)
        if vgg is not None:
            with torch.no_grad():
                target_features = vgg(high)
            loss = loss + config.perceptual_weight * F.l1_loss(vgg(output), target_features)
        if D is not None:
            for p in D.parameters():
                p.requires_grad = False
            real = D(high).detach()
            fake = D(output)
            gan = 0.5 * (
                F.binary_cross_entropy_with_logits(real - fake.mean(), torch.zeros_like(real))
                + F.binary_cross_entropy_with_logits(fake - real.mean(), torch.ones_like(fake))
            )
            loss = loss + config.gan_weight * gan
        loss.backward()
        opt_g.step()
        if D is not None and opt_d is not None:
            for p in D.parameters():
                p.requires_grad = True
            opt_d.zero_grad()
            fake = D(output.detach())
            real = D(high)
            loss_d = 0.5 * (
                F.binary_cross_entropy_with_logits(real - fake.mean(), torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake - real.mean(), torch.zeros_like(fake))
            )
            loss_d.backward()
            opt_d.step()
        update_ema()

    return step


def stage(config: SRConfig, repeats: int) -> dict[str, object]:
    generator = torch.Generator().manual_seed(0)
    size = config.image_size
    high = torch.rand(config.batch_size, 3, size, size, generator=generator)
    low = F.interpolate(high, scale_factor=1 / config.scale, mode="bicubic", antialias=True)
    medians = interleaved_medians(
        {
            "plain": plain_step_timer(config, low, high),
            "ours": core_step_timer(
                SuperResolutionFamily(), config, {"LR": low, "HR": high}, "fp32"
            ),
        },
        repeats,
    )
    return {
        "plain_pytorch_s_per_step": round(medians["plain"], 3),
        "ours_s_per_step": round(medians["ours"], 3),
        "ratio_plain_over_ours": round(medians["plain"] / medians["ours"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gan-blocks", type=int, default=6)
    args = parser.parse_args()
    os.environ["IMAGEXFORM_TEST_RANDOM_VGG"] = "1"  # no weights download; same cost
    common = {"scale": 4, "image_size": 128, "ema_decay": EMA_DECAY, "steps": 10**6}
    psnr = SRConfig(arch="srresnet", num_feat=64, num_block=16, batch_size=16, **common)
    gan = SRConfig(
        arch="rrdbnet",
        num_feat=64,
        num_block=args.gan_blocks,
        batch_size=4,
        perceptual_weight=1.0,
        gan_weight=0.005,
        gan_mode="ragan",
        netD="vgg",
        **common,
    )
    print(
        json.dumps(
            {
                "benchmark": "SR train step, x4, 128x128 HR crops, CPU fp32",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "load_average": os.getloadavg()[0],
                "repeats": args.repeats,
                "psnr_msrresnet_64x16_batch16": stage(psnr, args.repeats),
                f"gan_rrdbnet_64x{args.gan_blocks}_vggD_batch4": stage(gan, args.repeats),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
