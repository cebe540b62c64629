"""Seconds per image: our ONNX runtime against the same network in PyTorch eager fp32.

Networks (random weights; speed does not depend on them):
- pix2pix ``unet_256`` ngf 64 on a 256² image (``imagexform_pix2pix.networks.build_generator``);
- RRDBNet ×4 (BasicSR layout, num_feat 64, num_block 23, grow 32) on 128² → 512²; ``--small``
  uses num_feat 32 / 6 blocks as FINDINGS.md did.

Contenders, one image at a time as the reference test scripts run:
- ``torch``: ``net(x)`` under ``torch.inference_mode()`` in eval mode, 2 threads (default);
- ``ours_run``: :meth:`RuntimeModel.run` on the same float tensor (the network alone);
- ``ours_transform``: :meth:`RuntimeModel.transform` on a uint8 image (conversion, padding,
  denormalisation included: what a user pays).
Outputs of ``torch`` and ``ours_run`` must agree within 1e-4. ``first_image_s`` is a fresh
process importing the runtime, loading the model and transforming one image.
Prints JSON; ratios are torch / ours (above 1: ours is faster).

Run: .venv/bin/python benchmarks/runtime_model_time.py [--repeats 5] [--small]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from _photos import mosaic
from runtime_networks import RRDBNet, export, interleaved, rrdb_info, unet_info

from imagexform.runtime import load_model
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.networks import build_generator

FIRST_IMAGE = textwrap.dedent(
    """
    import sys, time
    start = time.perf_counter()
    import numpy as np
    from imagexform.runtime import load_model
    model = load_model(sys.argv[1])
    model.transform(np.zeros((int(sys.argv[2]),) * 2 + (3,), np.uint8))
    print(time.perf_counter() - start)
    """
)


def compare(name: str, net: torch.nn.Module, path: Path, size: int, repeats: int) -> dict:
    model = load_model(path)
    image = mosaic((size, size))
    low, high = model.info.io.value_range
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255 * (high - low) + low
    batch = tensor.numpy()
    with torch.inference_mode():
        expected = net(tensor).numpy()
    difference = float(np.abs(model.run(batch) - expected).max())

    def torch_run() -> None:
        with torch.inference_mode():
            net(tensor)

    times = interleaved(
        {
            "torch": torch_run,
            "ours_run": lambda: model.run(batch),
            "ours_transform": lambda: model.transform(image),
        },
        repeats,
    )
    child = subprocess.run(
        [sys.executable, "-c", FIRST_IMAGE, str(path), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "network": name,
        "input": f"{size}x{size}",
        "max_abs_diff": difference,
        "equal_within_1e-4": difference <= 1e-4,
        "seconds": times,
        "torch_over_ours_run": round(times["torch"]["median_s"] / times["ours_run"]["median_s"], 2),
        "torch_over_ours_transform": round(
            times["torch"]["median_s"] / times["ours_transform"]["median_s"], 2
        ),
        "first_image_s": round(float(child.stdout), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="RRDBNet num_feat 32, 6 blocks")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        unet = build_generator(Pix2PixConfig()).eval()
        started = time.perf_counter()
        path = export(unet, Path(folder) / "unet.onnx", unet_info("unet_256"), 256)
        export_s = time.perf_counter() - started
        results.append(compare("pix2pix unet_256 ngf 64", unet, path, 256, args.repeats))
        results[-1]["export_s"] = round(export_s, 1)
        feat, blocks = (32, 6) if args.small else (64, 23)
        rrdb = RRDBNet(feat, blocks).eval()
        started = time.perf_counter()
        path = export(rrdb, Path(folder) / "rrdb.onnx", rrdb_info("rrdb"), 64)
        export_s = time.perf_counter() - started
        name = f"RRDBNet x4 feat {feat} blocks {blocks}"
        results.append(compare(name, rrdb, path, 128, args.repeats))
        results[-1]["export_s"] = round(export_s, 1)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "onnxruntime": ort.__version__,
                "threads": torch.get_num_threads(),
                "repeats": args.repeats,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
