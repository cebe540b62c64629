"""What reading a published-size checkpoint costs torch-free, against ``torch.load``.

The file holds random weights in the key layout and shapes of RRDBNet x4plus (23 blocks, 64
features, growth 32: 16.7M float32 parameters in 700 tensors, 64 MB), saved by torch in its
zip format and in the legacy format of published 2018 files. Each measurement runs in a fresh
process, so that peak memory (``VmHWM``) is the read's own:

- ``import_s``: importing the reader, or torch;
- ``read_s``: :func:`read_checkpoint`, or ``torch.load(weights_only=True)``; ``total_s``: both;
- ``read_growth_mb``: how far the read raises the process's peak RSS above its peak after
  the import; ``peak_rss_mb``: the process's peak RSS.

Medians of interleaved rounds; ``ratio_*`` is torch's figure over the reader's.

Run: .venv/bin/python benchmarks/checkpoint_reader.py [--repeats 3]
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

import numpy as np
import torch

CHILD = textwrap.dedent(
    """
    import json, re, sys, time
    from pathlib import Path
    def peak_mb():  # VmHWM: unlike ru_maxrss, not inherited from the parent across exec
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
    started = time.perf_counter()
    if sys.argv[1] == "reader":
        from imagexform.convert.checkpoint import read_checkpoint
        load = lambda path: read_checkpoint(Path(path))
    else:
        import torch
        load = lambda path: torch.load(path, weights_only=True)
    imported = time.perf_counter()
    before = peak_mb()
    state = load(sys.argv[2])
    read = time.perf_counter()
    peak = peak_mb()
    print(json.dumps({
        "import_s": imported - started, "read_s": read - imported, "total_s": read - started,
        "tensors": len(state),
        "read_growth_mb": peak - before, "peak_rss_mb": peak,
    }))
    """
)
FIGURES = ("import_s", "read_s", "total_s", "read_growth_mb", "peak_rss_mb")


def rrdbnet_x4plus_shapes(blocks: int = 23, feat: int = 64, grow: int = 32) -> dict:
    """State-dict keys and shapes of BasicSR's RRDBNet x4plus."""
    shapes = {"conv_first": (feat, 3)}
    for block in range(blocks):
        for rdb in range(1, 4):
            for conv in range(1, 6):
                out = feat if conv == 5 else grow
                shapes[f"body.{block}.rdb{rdb}.conv{conv}"] = (out, feat + (conv - 1) * grow)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        shapes[name] = (feat, feat)
    shapes["conv_last"] = (3, feat)
    return shapes


def random_state(shapes: dict) -> dict[str, torch.Tensor]:
    generator = np.random.default_rng(0)
    state = {}
    for name, (out, into) in shapes.items():
        weight = generator.standard_normal((out, into, 3, 3), dtype=np.float32)
        state[f"{name}.weight"] = torch.from_numpy(weight)
        state[f"{name}.bias"] = torch.from_numpy(generator.standard_normal(out, dtype=np.float32))
    return state


def measure(contender: str, path: Path) -> dict:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, contender, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout)


def compare(paths: dict[str, Path], repeats: int) -> dict:
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for serialization, path in paths.items():
            for contender in ("reader", "torch"):
                runs.setdefault((serialization, contender), []).append(measure(contender, path))
    report: dict = {}
    for (serialization, contender), measured in runs.items():
        medians = {f: round(statistics.median(m[f] for m in measured), 3) for f in FIGURES}
        report.setdefault(serialization, {})[contender] = medians
    for figures in report.values():
        for figure in FIGURES:
            figures[f"ratio_{figure}"] = round(
                figures["torch"][figure] / figures["reader"][figure], 2
            )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    state = random_state(rrdbnet_x4plus_shapes())
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for serialization, zipped in (("zip", True), ("legacy", False)):
            paths[serialization] = Path(folder) / f"x4plus_{serialization}.pth"
            torch.save(state, paths[serialization], _use_new_zipfile_serialization=zipped)
        report = compare(paths, arguments.repeats)
        report["file"] = {
            "tensors": len(state),
            "parameters": sum(t.numel() for t in state.values()),
            "megabytes": round(paths["zip"].stat().st_size / 2**20, 1),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
