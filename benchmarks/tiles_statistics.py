"""Tiling models with instance norm: whole-image statistics against per-tile ones (issue 24).

The four instance-norm conformance generators (junyanz ResNet-9 and U-Net-128, fast neural
style TransformerNet, StarGAN; ``../shared/conformance``) are imported with ``imagexform
import``, so their files record the measured receptive field, then run on a photo mosaic:

- ``quality``: untiled against tiled at 768² (tiles 192, 256) and 1024² (tile 256), PSNR of
  tiled with whole-image statistics, with per-tile statistics (as before), and with
  statistics estimated on a 512² copy; seconds of each (same process, interleaved order);
- ``large``: a 4000×3000 mosaic through the ResNet-9, each configuration in a fresh process
  reporting its peak RSS: automatic tiles with statistics as the memory plan decides
  (a reduced copy here), with exact whole-image statistics forced, and per-tile statistics.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/tiles_statistics.py
[--parts quality,large]
Prints one JSON object.
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
from _photos import mosaic, psnr
from click.testing import CliRunner

from imagexform.cli import cli
from imagexform.runtime import load_model

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
MODELS = [
    "junyanz_resnet9_instance",
    "junyanz_unet128_instance",
    "fns_transformer_net",
    "stargan_generator",
]
RUNS = [(768, 192), (768, 256), (1024, 256)]
ESTIMATE_PIXELS = 512 * 512
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from imagexform.runtime import load_model
    model = load_model(sys.argv[1], device="cpu")
    setting = sys.argv[3]
    if setting == "per-tile":
        model.image_wide = None
    elif setting == "exact":
        model.statistics_limit = 4000 * 3000
    image = np.load(sys.argv[2])
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    modes = []
    start = time.perf_counter()
    model.transform(image, report=modes.append)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "statistics": setting, "mode": modes[0].describe(), "seconds": round(seconds, 1),
        "peak_rss_gib": round(peak / 2**20, 2), "after_load_gib": round(loaded / 2**20, 2),
    }))
    """
)


def import_models(folder: Path) -> dict[str, Path]:
    paths = {}
    for name in MODELS:
        path = folder / f"{name}.onnx"
        result = CliRunner().invoke(
            cli, ["import", str(CONFORMANCE / f"{name}.pth"), "-o", str(path)]
        )
        if result.exit_code != 0:
            raise SystemExit(result.output)
        paths[name] = path
    return paths


def timed(transform, image, **options):
    start = time.perf_counter()
    value = transform(image, **options)
    return value, round(time.perf_counter() - start, 2)


def quality(path: Path) -> list[dict[str, object]]:
    model = load_model(path, device="cpu")
    rows = []
    for edge, tile in RUNS:
        image = mosaic((edge, edge))
        model.transform(image[:256, :256], tile_size=128)  # sessions and graphs built
        whole, untiled_s = timed(model.transform, image, tile_size=0)
        modes: list = []
        tiled, tiled_s = timed(model.transform, image, tile_size=tile, report=modes.append)
        model.statistics_limit = ESTIMATE_PIXELS
        estimated = model.transform(image, tile_size=tile)
        model.statistics_limit = None
        wide, model.image_wide = model.image_wide, None
        per_tile, per_tile_s = timed(model.transform, image, tile_size=tile)
        model.image_wide = wide
        rows.append(
            {
                "photo": f"{edge}x{edge}",
                "tile": tile,
                "mode": modes[0].describe(),
                "psnr_whole_image_statistics": psnr(tiled, whole),
                "psnr_estimated_512": psnr(estimated, whole),
                "psnr_per_tile_statistics": psnr(per_tile, whole),
                "seconds_untiled": untiled_s,
                "seconds_tiled_statistics": tiled_s,
                "seconds_tiled_per_tile": per_tile_s,
                "time_ratio_statistics_vs_per_tile": round(tiled_s / per_tile_s, 2),
            }
        )
    return rows


def large(path: Path) -> list[dict[str, object]]:
    """Fresh processes, fed the mosaic from a file so that building it (all sample photos at
    full size) does not set their peak."""
    photo = path.with_name("mosaic.npy")
    np.save(photo, mosaic((3000, 4000)))
    results = []
    for setting in ("auto", "exact", "per-tile"):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(photo), setting],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="quality,large", help="comma-separated")
    parts = parser.parse_args().parts.split(",")
    with tempfile.TemporaryDirectory() as folder:
        paths = import_models(Path(folder))
        report: dict[str, object] = {
            "receptive_field": {
                name: load_model(path).info.tile.receptive_field for name, path in paths.items()
            },
        }
        if "quality" in parts:
            report["quality"] = {name: quality(path) for name, path in paths.items()}
        if "large" in parts:
            report["large_4000x3000_resnet9"] = large(paths["junyanz_resnet9_instance"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
