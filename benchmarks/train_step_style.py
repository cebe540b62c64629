"""Seconds per fast-neural-style training step (TransformerNet width 32, batch 4, 256x256).

Compares, in one run, contenders interleaved, on the same network, photos and painting:
- ``plain``: pytorch/examples' training loop written plainly (VGG16 relu1_2..relu4_3, Gram
  style loss, relu2_2 content loss), fp32, NCHW, per-tensor Adam;
- ``ours_fp32``: our StyleStep through the core TrainContext in fp32 (the framework's cost);
- ``ours_default``: the default precision (bf16 where the CPU has it; channels_last is off
  for InstanceNorm networks) and fused Adam, as ``imagexform train style`` runs.
VGG16 is randomly initialised in both (no download; the weights do not change the cost).
Prints JSON with medians and ratios (plain / ours: above 1 means ours is faster).

Run: .venv/bin/python benchmarks/train_step_style.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from _timing import compare_with_plain, print_report

from imagexform.losses.perceptual import RANDOM_VGG_ENV
from imagexform_style.config import StyleConfig
from imagexform_style.family import StyleFamily

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CUTS = (4, 9, 16, 23)  # relu1_2, relu2_2, relu3_3, relu4_3 in torchvision's vgg16.features


def plain_step_timer(config: StyleConfig, photos: torch.Tensor, painting: torch.Tensor):
    torch.manual_seed(0)
    net = StyleFamily().build(config)["G"]
    optimizer = torch.optim.Adam(net.parameters(), config.lr)
    layers = torchvision.models.vgg16().features[:23].eval().requires_grad_(False)

    def features(images: torch.Tensor) -> list[torch.Tensor]:
        x, found, start = (images / 255.0 - MEAN) / STD, [], 0
        for cut in CUTS:
            x = layers[start:cut](x)
            found.append(x)
            start = cut
        return found

    def gram(y: torch.Tensor) -> torch.Tensor:
        b, c, h, w = y.shape
        flat = y.view(b, c, h * w)
        return flat.bmm(flat.transpose(1, 2)) / (c * h * w)

    with torch.no_grad():
        style_grams = [gram(f) for f in features(painting)]

    def step() -> None:
        optimizer.zero_grad()
        styled = net(photos)
        ours, theirs = features(styled), features(photos)
        content = config.content_weight * F.mse_loss(ours[1], theirs[1])
        style = sum(
            F.mse_loss(gram(f), g.expand(len(photos), -1, -1))
            for f, g in zip(ours, style_grams, strict=True)
        )
        (content + config.style_weight * style).backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ[RANDOM_VGG_ENV] = "1"
    generator = torch.Generator().manual_seed(0)
    photos = torch.rand(4, 3, 256, 256, generator=generator) * 255
    with tempfile.TemporaryDirectory() as folder:
        painting_path = Path(folder) / "painting.png"
        painting = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
        cv2.imwrite(str(painting_path), painting)
        config = StyleConfig(style_image=str(painting_path), steps=10**6)
        painting_tensor = torch.from_numpy(painting[:, :, ::-1].copy()).permute(2, 0, 1)[None]
        batch = {"content": photos}
        results = compare_with_plain(
            StyleFamily(),
            config,
            batch,
            plain_step_timer(config, photos, painting_tensor.float()),
            args.repeats,
        )
    print_report(
        "style train step, TransformerNet width 32, batch 4, 256x256, CPU", args.repeats, results
    )


if __name__ == "__main__":
    main()
