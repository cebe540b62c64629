"""Memory of ×4 upscaling with and without tiles, and what tiling does to the pixels.

Peak memory: each measurement runs in a fresh process and reports its peak RSS
(``ru_maxrss``), for RRDBNet ×4 num_feat 64 (the published width). ``--blocks`` sets the
number of RRDB blocks, 1 by default: peak memory is set by the ×4 tail, whose tensors are 16
times larger than the body's, and 23 blocks would make the 4000×3000 run take about half an
hour on two cores (``x4plus_check`` measures 23 blocks untiled at 256²: 0.2 GiB more).
- ``untiled``: ``tile_size=0`` at 128², 256², 512², as FINDINGS.md measured x4plus;
- ``tiled_auto``: a 4000×3000 photo mosaic with the automatic tile size.

Pixels: the briefly trained RRDBNet ×4 (feat 32, 6 blocks, see ``runtime_precision.py``) on a
1024×1024 photo mosaic, untiled against tiled (automatic tile, and 256-pixel tiles), with
its metadata overlap (32), and 256-pixel tiles with overlap 8 and 0. Saves
``/tmp/runtime_tile_seam.png``: untiled | tiled | |difference|×16 around a corner where four
256-pixel tiles meet.

Run: .venv/bin/python benchmarks/runtime_memory.py [--blocks 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np
import torch
from _photos import mosaic
from runtime_networks import RRDBNet, export, fitted_models, rrdb_info

from imagexform.runtime import load_model, memory
from imagexform.runtime.tiling import plan_axis

SEAM_PNG = "/tmp/runtime_tile_seam.png"
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[5])
    from _photos import mosaic
    from imagexform.runtime import load_model
    model = load_model(sys.argv[1])
    height, width, tile = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    image = mosaic((height, width))
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # What tile_size=None does, made explicit so the tile can be reported.
    tile = model.auto_tile_size(height, width) if tile == "auto" else int(tile)
    start = time.perf_counter()
    out = model.transform(image, tile_size=tile)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "input": f"{width}x{height}", "output": f"{out.shape[1]}x{out.shape[0]}",
        "tile": tile,
        "seconds": round(seconds, 1),
        "rss_after_load_gib": round(loaded / 2**20, 2),
        "peak_rss_gib": round(peak / 2**20, 2),
        "torch_loaded": "torch" in sys.modules,
    }))
    """
)


def measure(path: Path, height: int, width: int, tile: str) -> dict:
    folder = str(Path(__file__).resolve().parent)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(height), str(width), tile, folder],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        return {"input": f"{width}x{height}", "tile": tile, "error": child.stderr[-500:]}
    return json.loads(child.stdout)


def seam_check(path: Path) -> dict:
    model = load_model(path)
    image = mosaic((1024, 1024))
    whole = model.transform(image, tile_size=0).astype(np.int16)
    overlap = model.info.tile.overlap
    results: dict = {"overlap_from_metadata": overlap}
    variants = (("auto", None, None), ("256", 256, None), ("256_overlap_8", 256, 8))
    # Tiles that abut without overlap: shows that the comparison can see seams at all.
    for label, tile, lap in (*variants, ("256_overlap_0", 256, 0)):
        tiled = model.transform(image, tile_size=tile, overlap=lap).astype(np.int16)
        difference = np.abs(whole - tiled)
        results[label] = {
            "tile": tile or model.auto_tile_size(1024, 1024),
            "overlap": overlap if lap is None else lap,
            "max_abs_diff_of_255": int(difference.max()),
            "mean_abs_diff_of_255": round(float(difference.mean()), 4),
            "pixels_over_2_of_255": int((difference.max(axis=2) > 2).sum()),
        }
        if label == "256":
            save_corner(whole, tiled, difference, plan_axis(1024, 256, overlap))
            results["crop_png"] = SEAM_PNG
    return results


def save_corner(whole, tiled, difference, spans) -> None:
    """Untiled | tiled | difference×16 around the tile corner nearest the middle of the brick
    photo (input 768, 256), where texture would show any seam."""
    centres = [(spans[i + 1][0] + spans[i][1]) / 2 for i in range(len(spans) - 1)]
    row = int(min(centres, key=lambda c: abs(c - 256)) * 4)
    column = int(min(centres, key=lambda c: abs(c - 768)) * 4)
    rows, columns = slice(row - 96, row + 96), slice(column - 96, column + 96)
    panels = [whole[rows, columns], tiled[rows, columns], difference[rows, columns] * 16]
    strip = np.clip(np.hstack(panels), 0, 255).astype(np.uint8)
    cv2.imwrite(SEAM_PNG, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ixf-bench")
    parser.add_argument("--skip-large", action="store_true", help="skip the 4000×3000 run")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    report: dict = {
        "available_gib_at_start": round(memory.available_memory() / 2**30, 1),
        "network": f"RRDBNet x4 feat 64 blocks {args.blocks}",
    }
    with tempfile.TemporaryDirectory() as folder:
        path = export(RRDBNet(64, args.blocks), Path(folder) / "rrdb.onnx", rrdb_info("m"), 64)
        report["untiled"] = [measure(path, size, size, "0") for size in (128, 256, 512)]
        full = export(RRDBNet(64, 23), Path(folder) / "x4plus.onnx", rrdb_info("x4plus"), 64)
        report["x4plus_check"] = measure(full, 256, 256, "0")
        if not args.skip_large:
            report["tiled_auto"] = measure(path, 3000, 4000, "auto")
            tile = report["tiled_auto"].get("tile")
            if tile:
                report["tiled_auto"]["estimated_run_gib"] = round(
                    memory.run_bytes(tile, tile, 4) / 2**30, 2
                )
    sr = fitted_models(args.work, 300, 150)["RRDBNet x4 feat 32 blocks 6"]
    report["seams_1024"] = seam_check(sr)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
