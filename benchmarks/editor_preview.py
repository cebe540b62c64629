"""How long the editor's region preview takes on a large photo, against applying the model
to the whole photo (the baseline), with the shipped ×4 upscaler.

The editor's viewport is 1100×800 screen pixels. Fitted, the whole photo is in view and the
preview runs at screen resolution; at 400% it shows a quarter-resolution window of the
photo at the model's full resolution. Prints JSON; run by hand:

    .venv/bin/python benchmarks/editor_preview.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _photos import mosaic

from imagexform.app.jobs import Job, ModelCache
from imagexform.app.running import RunRequest, preview, transform

MODEL = Path(__file__).resolve().parents[1] / "assets" / "models" / "imagexform-sr-x4.onnx"
PHOTO = (1500, 2000)  # height, width: 3 MP in, 48 MP out
VIEW = (1100, 800)  # viewport width, height in screen pixels


def seconds(run: object) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    cache = ModelCache()
    request = RunRequest(MODEL)
    image = mosaic(PHOTO)
    job = Job(lambda job: None)
    cache.get(MODEL, "auto")  # a session is created once per model, before any run
    height, width = PHOTO
    fit = min(VIEW[0] / width, VIEW[1] / height)
    zoomed = 4.0
    window = (round(VIEW[0] / zoomed), round(VIEW[1] / zoomed))
    centre = ((width - window[0]) // 2, (height - window[1]) // 2)
    previews = {
        "preview_fitted": lambda: preview(job, cache, request, image, (0, 0, width, height), fit),
        "preview_400_percent": lambda: preview(
            job, cache, request, image, (*centre, *window), zoomed
        ),
    }
    timings = {name: seconds(run) for name, run in previews.items()}
    timings["apply_whole_photo"] = seconds(lambda: transform(job, cache, request, image))
    report = {
        "photo": f"{width}x{height}",
        "model": MODEL.name,
        "view": f"{VIEW[0]}x{VIEW[1]}",
        "seconds": {name: round(value, 3) for name, value in timings.items()},
        "whole_photo_over_preview": {
            name: round(timings["apply_whole_photo"] / timings[name], 1) for name in previews
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
