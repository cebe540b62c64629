"""Networks and helpers shared by the runtime benchmarks (not a benchmark itself).

RRDBNet comes from the SR plugin (BasicSR layout); the pix2pix U-Net from the pix2pix plugin.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from _photos import photos
from torch import nn

from imagexform.family import IOSpec, TileHints
from imagexform.modelinfo import IMAGE_INPUT, METADATA_KEY, OUTPUT, ModelInfo
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.networks import build_generator
from imagexform_sr.networks import RRDBNet as SRRRDBNet

MAX_IR_VERSION = 10


def RRDBNet(num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32) -> nn.Module:
    """ESRGAN's generator ×4, from the SR plugin (BasicSR layout)."""
    return SRRRDBNet(scale=4, num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch)


def rrdb_info(name: str, overlap: int = 32) -> ModelInfo:
    return ModelInfo(
        family="benchmark-sr",
        title=name,
        io=IOSpec(value_range=(0.0, 1.0), scale=4),
        tile=TileHints(overlap=overlap),
    )


def unet_info(name: str) -> ModelInfo:
    return ModelInfo(
        family="benchmark-pix2pix",
        title=name,
        io=IOSpec(value_range=(-1.0, 1.0), size_multiple=256),
    )


def export(net: nn.Module, path: Path, info: ModelInfo, example: int) -> Path:
    """Dynamic-size ONNX with our metadata, written the way the exporter writes models."""
    net.eval()
    x = torch.rand(1, 3, example, example)
    lowest = info.io.size_multiple if info.io.size_multiple > 1 else 8
    height = torch.export.Dim("height", min=lowest, max=8192)
    width = torch.export.Dim("width", min=lowest, max=8192)
    torch.onnx.export(
        net,
        (x,),
        str(path),
        dynamo=True,
        external_data=False,
        input_names=[IMAGE_INPUT],
        output_names=[OUTPUT],
        opset_version=18,
        dynamic_shapes={"x": {2: height, 3: width}},
        verbose=False,
    )
    model = onnx.load(str(path))
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    model.metadata_props.add(key=METADATA_KEY, value=info.to_json())
    onnx.save(model, str(path))
    return path


def _random_crops(images: list[np.ndarray], size: int, count: int, rng) -> torch.Tensor:
    crops = []
    for _ in range(count):
        image = images[rng.integers(len(images))]
        top = rng.integers(image.shape[0] - size + 1)
        left = rng.integers(image.shape[1] - size + 1)
        crops.append(image[top : top + size, left : left + size])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def fit_sr(net: nn.Module, steps: int, seed: int = 0) -> nn.Module:
    """A few hundred steps of ×4 bicubic super-resolution on the photos with L1: not a good
    upscaler, but one whose activations and output look like a trained network's, which is
    what quantisation error depends on (random weights give a near-constant output)."""
    rng = np.random.default_rng(seed)
    images = photos()
    optimizer = torch.optim.Adam(net.parameters(), 5e-4)
    net.train()
    for _ in range(steps):
        high = _random_crops(images, 96, 4, rng)
        low = F.interpolate(high, scale_factor=0.25, mode="bicubic", antialias=True).clamp(0, 1)
        loss = (net(low) - high).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def fit_denoise(net: nn.Module, steps: int, seed: int = 0) -> nn.Module:
    """A pix2pix generator trained briefly to remove Gaussian noise (σ 0.1 in [-1, 1]), for
    the same reason as :func:`fit_sr`."""
    rng = np.random.default_rng(seed)
    images = photos()
    optimizer = torch.optim.Adam(net.parameters(), 2e-4, betas=(0.5, 0.999))
    net.train()
    for _ in range(steps):
        clean = _random_crops(images, 256, 1, rng) * 2 - 1
        noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(-1, 1)
        loss = (net(noisy) - clean).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def fitted_models(work: Path, sr_steps: int, unet_steps: int) -> dict[str, Path]:
    """The two briefly trained networks as ONNX files, trained once per step count."""
    torch.manual_seed(0)
    paths = {
        "RRDBNet x4 feat 32 blocks 6": work / f"rrdb32x6_fit{sr_steps}.onnx",
        "pix2pix unet_256 ngf 64": work / f"unet256_fit{unet_steps}.onnx",
    }
    sr, unet = paths.values()
    if not sr.exists():
        export(fit_sr(RRDBNet(32, 6), sr_steps), sr, rrdb_info(sr.stem), 64)
    if not unet.exists():
        net = fit_denoise(build_generator(Pix2PixConfig()), unet_steps)
        export(net, unet, unet_info(unet.stem), 256)
    return paths


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Median and best seconds per call, alternating contenders within each round so that
    load from other processes on the shared machine hits all alike."""
    for run in contenders.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {
        name: {"median_s": round(statistics.median(t), 4), "min_s": round(min(t), 4)}
        for name, t in times.items()
    }
