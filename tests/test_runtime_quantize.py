"""The ``fast`` precision: int8 preparation from sample photos, its cache, and the fallbacks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.io.images import read_image
from imagexform.runtime import load_model
from imagexform.runtime.cache import CACHE_ENV, cache_dir
from imagexform.runtime.quantize import RECIPES, prepare

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "assets" / "photos").glob("*.jpg"))


@pytest.fixture
def samples() -> list[np.ndarray]:
    return [read_image(path) for path in PHOTOS[:3]]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return cache_dir() / "int8"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse else 99.0


def test_prepare_quantises_once_and_reuses_the_cache(tmp_path, cache, samples):
    model = load_model(om.blur_stack(tmp_path / "blur.onnx"))
    report, quantized = prepare(model, samples, min_speedup=0)
    assert report["recipe"] in RECIPES
    assert quantized is not None and quantized.parent == cache
    assert {c["recipe"] for c in report["candidates"]} == set(RECIPES)
    assert all(c["psnr_db"] >= 40 for c in report["candidates"])
    written = quantized.stat().st_mtime_ns
    again, same = prepare(model, None)
    assert again == report and same == quantized
    assert quantized.stat().st_mtime_ns == written
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []


def test_fast_model_runs_int8_and_stays_close_to_fp32(tmp_path, cache, samples):
    path = om.blur_stack(tmp_path / "blur.onnx")
    reference = load_model(path)
    report, _ = prepare(reference, samples, min_speedup=0)
    fast = load_model(path, precision="fast")
    assert fast.precision == report["recipe"] and fast.precision_report == report
    photo = samples[0][:200, :300]
    assert psnr(fast.transform(photo), reference.transform(photo)) >= 40
    assert reference.precision == "fp32"


def test_fast_falls_back_to_fp32_when_no_int8_recipe_qualifies(tmp_path, cache, samples):
    path = om.identity(tmp_path / "m.onnx")
    report, quantized = prepare(load_model(path), samples, min_psnr=1000)
    assert report["recipe"] == "fp32" and quantized is None
    model = load_model(path, precision="fast")
    assert model.precision == "fp32"
    assert np.array_equal(model.transform(samples[1]), samples[1])


def test_fast_without_samples_or_cache_is_a_user_error(tmp_path, cache):
    with pytest.raises(UserError, match=r"m\.onnx: precision 'fast' needs sample images"):
        load_model(om.identity(tmp_path / "m.onnx"), precision="fast")


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.modules["onnx"] = None  # as on an inference-only install
    from imagexform.errors import UserError
    from imagexform.runtime import load_model
    try:
        load_model(sys.argv[1], precision="fast", calibration=[np.zeros((8, 8, 3), np.uint8)])
    except UserError as exc:
        print(exc)
    """
)


def test_without_the_onnx_package_fast_says_what_to_install(tmp_path, cache):
    path = om.identity(tmp_path / "m.onnx")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip().endswith(
        "needs the onnx package to build the int8 model; pip install onnx (or use precision 'fp32')"
    )
