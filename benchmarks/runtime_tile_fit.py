"""Time a whole transform with tiles fitted to the image (``tiling.fit_tile``) against the
baseline of full-size tiles placed evenly (what the runtime did before), in the same run,
with the shipped ×4 upscaler and the tile the runtime picks for each photo size.

Photo sizes: the editor's preview of a fitted 2000×1500 photo (275×200), a 640×480 photo
and a 2000×1500 photo. Prints JSON with seconds and the ratio baseline / fitted; run by hand:

    .venv/bin/python benchmarks/runtime_tile_fit.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _photos import mosaic

from imagexform.runtime import load_model, tiling

MODEL = Path(__file__).resolve().parents[1] / "assets" / "models" / "imagexform-sr-x4.onnx"
SIZES = [(200, 275), (480, 640), (1500, 2000)]  # height, width


def full_tiles(length: int, tile: int, overlap: int, multiple: int = 1) -> int:
    return tile


def seconds(run: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    repeats = parser.parse_args().repeats
    model = load_model(MODEL)
    fitted = tiling.fit_tile
    rows = []
    for height, width in SIZES:
        image = mosaic((height, width))
        model.transform(image[:64, :64])  # warm the session up
        tile = model.auto_tile_size(height, width)
        tiling.fit_tile = full_tiles
        baseline = seconds(lambda image=image: model.transform(image), repeats)
        tiling.fit_tile = fitted
        ours = seconds(lambda image=image: model.transform(image), repeats)
        overlap = model.info.tile.overlap
        rows.append(
            {
                "photo": f"{width}x{height}",
                "tile": tile,
                "fitted_tile": [fitted(height, tile, overlap), fitted(width, tile, overlap)],
                "full_tiles_s": round(baseline, 3),
                "fitted_tiles_s": round(ours, 3),
                "ratio_full_over_fitted": round(baseline / ours, 2),
            }
        )
    print(json.dumps({"model": MODEL.name, "repeats": repeats, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
