"""Converting RRDBNet x4plus (Real-ESRGAN's 64 MB release layout) to ONNX: torch-free through
its shipped graph template, against the torch import and export (``imagexform import --via
torch``, which rebuilds the network, traces it with the dynamo exporter and checks parity).

The checkpoint holds random weights in the published layout (``params_ema``, 23 blocks).
Each conversion runs in a fresh process, so that its time includes what a user waits for
(imports included) and its peak memory (``VmHWM``) is its own. Medians of interleaved
rounds; ``ratio_*`` is the torch route's figure over the template's.

Run: .venv/bin/python benchmarks/torch_free_convert.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import torch

from imagexform.export.templates import distinct_weights, recipes
from imagexform.plugins import host

CHILD = textwrap.dedent(
    """
    import json, re, sys, time
    from pathlib import Path
    started = time.perf_counter()
    if sys.argv[1] == "template":
        from imagexform.convert.conversion import convert_checkpoint as convert
    else:
        from imagexform.export.importing import import_foreign as convert
    convert(Path(sys.argv[2]), Path(sys.argv[3]))
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak,
                      "torch_imported": "torch" in sys.modules}))
    """
)
FIGURES = ("seconds", "peak_rss_mb")


def convert(route: str, checkpoint: Path, output: Path) -> dict:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, route, str(checkpoint), str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    recipe = next(r for _, r in recipes(host()) if r.name == "rrdbnet-x4-23")
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / "RealESRGAN_x4plus.pth"
        torch.save({"params_ema": distinct_weights(recipe.example())}, checkpoint)
        runs: dict[str, list[dict]] = {"template": [], "torch": []}
        for _ in range(arguments.rounds):
            for route in runs:
                runs[route].append(convert(route, checkpoint, Path(scratch) / f"{route}.onnx"))
        size_mb = checkpoint.stat().st_size / 2**20
    report: dict = {"checkpoint_mb": round(size_mb, 1), "rounds": arguments.rounds}
    for route, measured in runs.items():
        report[route] = {f: round(statistics.median(m[f] for m in measured), 2) for f in FIGURES}
        report[route]["torch_imported"] = measured[0]["torch_imported"]
    for figure in FIGURES:
        report[f"ratio_{figure}"] = round(report["torch"][figure] / report["template"][figure], 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
