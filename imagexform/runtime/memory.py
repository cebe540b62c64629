"""How large a tile fits in the memory that is free right now.

ONNX Runtime has no way to ask a model how much memory a run will take, so we estimate it
from the input and output sizes with a figure calibrated on RRDBNet, the largest network the
project runs. An estimate that is too high only costs speed (smaller tiles than needed); too
low is caught by the out-of-memory retry in :mod:`imagexform.runtime.model`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# Peak bytes per input pixel for each unit of (1 + scale²), i.e. activations at the input's
# resolution plus those at the output's. RRDBNet x4 (num_feat 64) needs 10-12 KiB per input
# pixel in this runtime (benchmarks/runtime_memory.py: 0.8 / 1.55 / 3.5 GiB peak at 128² /
# 256² / 512²) and 12-17 KiB in FINDINGS.md's measurements up to 1024²: about 1 KiB × (1 + 4²).
ACTIVATION_BYTES = 1024
# Headroom for the arena's power-of-two growth and for networks wider than RRDBNet.
SAFETY = 1.5
# Share of available memory one transform may plan to use: image decoding and encoding run
# beside it, and other programs keep running.
MEMORY_FRACTION = 0.5
# And never more than this, however much is free: a ×4 upscale of a 12-megapixel photo stays
# under 2 GB of peak RSS (benchmarks/runtime_memory.py). Tiles beyond ~256 pixels gain only a
# few percent of overlap work on the CPU; users with memory to spare can pass a larger --tile.
PLAN_LIMIT = int(1.75 * 2**30)
MIN_TILE = 64
# No portable way to ask how much GPU memory is free without CUDA bindings; the OOM retry
# halves this if it is too much.
GPU_TILE = 512
# When the available memory cannot be read at all.
FALLBACK_AVAILABLE = 4 << 30


def available_memory() -> int:
    """Bytes that can be allocated without swapping: the lower of the system's MemAvailable
    and the container's cgroup limit minus its usage (containers see the host's meminfo)."""
    candidates = [value for value in (_meminfo_available(), _cgroup_available()) if value]
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return FALLBACK_AVAILABLE
    return min(candidates)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        # cgroup v2 writes "max"; v1 writes a huge number when unlimited.
        if limit != "max" and int(limit) < 1 << 60:
            return max(int(limit) - usage, 0)
    return None


def run_bytes(height: int, width: int, scale: int) -> int:
    """Estimated peak memory of one model run on a ``height``×``width`` input."""
    return int(height * width * ACTIVATION_BYTES * (1 + scale * scale) * SAFETY)


def whole_image_pixels(available: int | None = None) -> int:
    """Pixels one run at the input's resolution may take when it must see the whole image at
    once (the statistics pass of :mod:`imagexform.runtime.norm_stats`): our share of the
    available memory. :data:`PLAN_LIMIT` does not apply; it trades tile size for speed, while
    a statistics pass on a reduced copy is only an estimate."""
    if available is None:
        available = available_memory()
    return max(int(available * MEMORY_FRACTION) // run_bytes(1, 1, 1), MIN_TILE * MIN_TILE)


def auto_tile_size(
    height: int,
    width: int,
    *,
    scale: int,
    channels: int,
    out_channels: int,
    multiple: int,
    sample_bytes: int = 1,
    alpha: bool = False,
    available: int | None = None,
) -> int:
    """The largest square tile whose run fits in our share of ``available`` memory (at most
    :data:`PLAN_LIMIT`) after the whole-image buffers: the float input, the finished output
    (``sample_bytes`` per sample, plus alpha), and one float strip of output rows as wide as
    the image (see :mod:`imagexform.runtime.tiling`)."""
    if available is None:
        available = available_memory()
    output = (out_channels + alpha) * sample_bytes * scale * scale
    image = height * width * (channels * 4 + output)
    # Past the limit, whole-image buffers (a 16-bit RGBA ×4 result is 1.5 GB) squeeze the
    # tile only down to half the limit's worth: tiny tiles would make such images crawl.
    budget = min(available * MEMORY_FRACTION - image, max(PLAN_LIMIT - image, PLAN_LIMIT / 2))
    # run_bytes(t, t) + strip(t) = budget, a quadratic in the tile size t.
    quadratic = ACTIVATION_BYTES * (1 + scale * scale) * SAFETY
    linear = 2 * scale * scale * width * out_channels * 4
    tile = (-linear + math.sqrt(linear * linear + 4 * quadratic * max(budget, 0))) / (2 * quadratic)
    step = math.lcm(max(multiple, 1), 16)
    tile = int(tile) // step * step
    return max(tile, MIN_TILE // step * step, step)
