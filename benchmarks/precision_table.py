"""Issue 23's table: each published network at the size users feed it, through our runtime in
fp32 and in ``precision="fast"`` (what it picked, its speed-up and worst PSNR against fp32
on the sample photos), against torch eager fp32 and torch bf16 channels_last on the same input.

The networks are the shipped graph templates filled with random published-size weights
(``distinct_weights``: the network's own initialisation, moved a little), converted torch-free
as ``imagexform import`` does; torch runs the module the importer builds from the same file.
Random weights say nothing about a trained model's quantisation error, so the PSNR column is
a floor check only; the speeds hold for any weights. ``--trained DIR`` adds Real-ESRGAN's own
trained x4plus and animevideov3 networks (``benchmarks/ncnn_weights.py`` writes them there),
whose PSNR column is the real one. The shipped ×4 upscaler (trained) has no torch columns: its
checkpoint is not shipped. All timings are interleaved medians in one run; ratios are over
our fp32.

Run: .venv/bin/python benchmarks/precision_table.py [--repeats 3] [--only NAME ...]
     [--trained DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from _medians import interleaved_medians
from _photos import photos
from ncnn_weights import MODELS as TRAINED
from safetensors.torch import load_file

from imagexform.convert.conversion import convert_checkpoint
from imagexform.export.importing import adopted
from imagexform.export.templates import distinct_weights, recipes
from imagexform.plugins import host
from imagexform.runtime import load_model, processing
from imagexform.runtime.quantize import cached_verdict

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"
# template -> input edge users feed it (an upscaler's photo tile; the translators' training size)
NETWORKS = {
    "rrdbnet-x4-23": 128,
    "pix2pix-unet256-batch": 256,
    "cyclegan-resnet9": 256,
    "transformer-net": 256,
}
SHIPPED_EDGE = 128


def calibration(edge: int) -> list[np.ndarray]:
    return [cv2.resize(p, (edge, edge), interpolation=cv2.INTER_AREA) for p in photos()]


def torch_module(recipe, state: dict, path: Path) -> torch.nn.Module:
    plugin_host = host()
    importer = next(i for i in plugin_host.importers() if i.name == recipe.importer)
    imported = adopted(path, importer.load(state), plugin_host, recipe.family)
    family = plugin_host.family(imported.family)
    return family.inference_module(imported.config, imported.nets).eval()


def torch_steps(module: torch.nn.Module, x: torch.Tensor) -> dict:
    last = module.to(memory_format=torch.channels_last)
    x_last = x.to(memory_format=torch.channels_last)

    def eager() -> None:
        with torch.inference_mode():
            module(x)

    def bf16() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            last(x_last)

    return {"torch_eager_fp32": eager, "torch_bf16_channels_last": bf16}


def measure(model_path: Path, edge: int, repeats: int, module=None) -> dict:
    images = calibration(edge)
    ours = load_model(model_path, device="cpu")
    fast = load_model(model_path, device="cpu", precision="fast", calibration=images[:4])
    image = images[0]
    steps = {
        "ours_fp32": lambda: ours.transform(image, tile_size=0),
        "ours_fast": lambda: fast.transform(image, tile_size=0),
    }
    if module is not None:
        pixels = processing.prepare(image, ours.info.io).pixels.transpose(2, 0, 1)[None]
        steps |= torch_steps(module, torch.from_numpy(np.ascontiguousarray(pixels)))
    seconds = interleaved_medians(steps, repeats)
    verdict = cached_verdict(model_path)  # also when fast chose fp32 and kept no report
    report = verdict[0] if verdict else {}
    picked = next((c for c in report.get("candidates", []) if c["recipe"] == fast.precision), {})
    return {
        "input": f"{edge}x{edge}",
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
        "speedup_over_ours_fp32": {
            name: round(seconds["ours_fp32"] / value, 2) for name, value in seconds.items()
        },
        "fast_picked": fast.precision,
        "fast_worst_psnr_db": picked.get("psnr_db"),
        "fast_candidates": [
            {key: c[key] for key in ("recipe", "psnr_db", "speedup")}
            for c in report.get("candidates", [])
        ],
    }


def trained_networks(folder: Path | None) -> dict[str, tuple[str, Path]]:
    """Table row name -> (template, checkpoint) for the trained networks found in ``folder``."""
    if folder is None:
        return {}
    found = {}
    for stem, template in TRAINED.values():
        if (folder / f"{stem}.safetensors").is_file():
            found[f"{stem} (trained)"] = (template, folder / f"{stem}.safetensors")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--trained", type=Path, help="the folder ncnn_weights.py wrote")
    args = parser.parse_args()
    table = {}
    found = {recipe.name: recipe for _, recipe in recipes(host())}
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["IMAGEXFORM_CACHE_DIR"] = scratch  # fast's verdicts: this run's own
        networks = {name: (name, None) for name in NETWORKS}
        networks |= trained_networks(args.trained)
        for name, (template, weights) in networks.items():
            if args.only and name not in args.only:
                continue
            recipe = found[template]
            state = load_file(weights) if weights else distinct_weights(recipe.example())
            checkpoint = Path(scratch) / f"{template}.pth"
            torch.save(state, checkpoint)
            model_path = Path(scratch) / f"{template}.onnx"
            convert_checkpoint(checkpoint, model_path, family_name=recipe.family)
            module = torch_module(recipe, state, model_path)
            table[name] = measure(model_path, NETWORKS.get(template, 128), args.repeats, module)
            print(json.dumps({name: table[name]}), flush=True)
        if not args.only or "shipped" in args.only:
            table["imagexform-sr-x4 (shipped)"] = measure(SHIPPED, SHIPPED_EDGE, args.repeats)
    print(json.dumps({"threads": torch.get_num_threads(), "table": table}, indent=2))


if __name__ == "__main__":
    main()
