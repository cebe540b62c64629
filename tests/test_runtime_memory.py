"""Tile size from free memory, and the retry with smaller tiles when memory runs out.

The out-of-memory test makes ONNX Runtime really fail to allocate: a child process caps its
own address space (``RLIMIT_AS``) just above what the loaded model needs, so the arena's
allocation for a large tile fails exactly as it does when a machine runs out of memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from imagexform.family import IOSpec, TileHints
from imagexform.runtime import load_model, memory

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

GIB = 1 << 30


def test_available_memory_is_plausible():
    with open("/proc/meminfo", encoding="ascii") as handle:
        total = int(handle.readline().split()[1]) * 1024
    assert 0 < memory.available_memory() <= total


def auto(scale=1, available=8 * GIB, multiple=1, size=4000):
    return memory.auto_tile_size(
        size,
        size,
        scale=scale,
        channels=3,
        out_channels=3,
        multiple=multiple,
        available=available,
    )


def test_auto_tile_shrinks_with_scale_and_with_less_memory():
    assert auto(scale=4) < auto(scale=2) < auto(scale=1)
    assert auto(available=2 * GIB) < auto(available=8 * GIB)
    assert auto(scale=4, available=100 << 20) == memory.MIN_TILE
    assert auto(available=1 << 50) == auto(available=24 * GIB)  # the plan limit governs


def test_auto_tile_is_a_multiple_of_the_size_multiple():
    assert auto(multiple=24) % 24 == 0
    assert auto(multiple=256, available=1 * GIB) == 256


def test_auto_tile_fits_the_calibration():
    """The RRDBNet x4 figures the estimate was calibrated on: a 512² input peaked at 3.8 GiB,
    so with little free the tile stays under 512; with plenty, the plan limit keeps it near
    256 (1.5 GiB)."""
    tile = auto(scale=4, available=4 * GIB, size=1000)
    assert 128 <= tile < 512
    assert memory.run_bytes(tile, tile, 4) < 4 * GIB * memory.MEMORY_FRACTION
    assert auto(scale=4, available=24 * GIB, size=1000) == auto(
        scale=4, available=96 * GIB, size=1000
    )


def test_whole_image_buffers_leave_less_for_the_tile():
    """A ×4 upscale of a 4000×3000 photo keeps ~0.7 GB of whole-image buffers (more for 16-bit
    with alpha), so its tile is smaller than a small image's, and everything fits the limit."""
    small = auto(scale=4, available=24 * GIB, size=500)
    large = memory.auto_tile_size(
        3000, 4000, scale=4, channels=3, out_channels=3, multiple=1, available=24 * GIB
    )
    deep = memory.auto_tile_size(
        3000,
        4000,
        scale=4,
        channels=3,
        out_channels=3,
        multiple=1,
        sample_bytes=2,
        alpha=True,
        available=24 * GIB,
    )
    assert deep < large < small
    assert memory.run_bytes(large, large, 4) + 3000 * 4000 * (12 + 48) < memory.PLAN_LIMIT


def test_model_uses_its_hint_or_memory(tmp_path):
    hinted = om.model_info(IOSpec(value_range=(0, 1)), TileHints(tile_size=100, overlap=8))
    assert load_model(om.identity(tmp_path / "a.onnx", hinted)).auto_tile_size(5000, 5000) == 100
    model = load_model(om.upscaler(tmp_path / "b.onnx", 4))
    assert memory.MIN_TILE <= model.auto_tile_size(5000, 5000) <= 1024


CHILD = textwrap.dedent(
    """
    import json, logging, resource, sys
    import numpy as np
    from imagexform.runtime import OutOfMemoryError, load_model

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    model = load_model(sys.argv[1], threads=1)
    image = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    model.transform(image[:64, :64])  # threads, arena and kernels exist before the cap
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    # 1024² pixels × 64 channels × 4 bytes = 256 MiB for one intermediate tensor: no fit.
    resource.setrlimit(resource.RLIMIT_AS, (size * 1024 + (160 << 20), resource.RLIM_INFINITY))
    result = {}
    try:
        model.transform(image, tile_size=0)
        result["untiled"] = "ran"
    except OutOfMemoryError as exc:
        result["untiled"] = str(exc)
    out = model.transform(image, tile_size=1024, overlap=8)
    result["equal"] = bool(np.array_equal(out, image))
    print(json.dumps(result))
    """
)


def test_out_of_memory_halves_the_tile_until_it_fits(tmp_path):
    path = om.wide_identity(tmp_path / "wide.onnx")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["untiled"].startswith(f"{path}: out of memory on a 1024×1024 image")
    assert result["equal"]
    retries = [line for line in child.stderr.splitlines() if "retrying with" in line]
    # 512-pixel tiles fitted to 1024 pixels with an overlap of 8: three of 347.
    assert (
        retries[0] == f"{path}: out of memory with 1024-pixel tiles; retrying with 347-pixel tiles"
    )
