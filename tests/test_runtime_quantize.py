"""The ``fast`` precision: int8 preparation from sample photos, its cache, and the fallbacks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.io.digest import file_sha256
from imagexform.io.images import read_image
from imagexform.runtime import load_model, processing
from imagexform.runtime.cache import CACHE_ENV, cache_dir
from imagexform.runtime.openvino_engine import available, has_bf16
from imagexform.runtime.quantize import (
    BF16,
    ON_OPENVINO,
    RECIPES,
    excluded,
    int8_recipe,
    named_nodes,
    prepare,
    quantize,
)
from imagexform.runtime.session import OPENVINO

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
    names = {c["recipe"] for c in report["candidates"]}
    expected = set(RECIPES)
    if available():
        expected |= {name + ON_OPENVINO for name in RECIPES}
        expected |= {BF16} if has_bf16() else set()
    assert names == expected
    assert report["recipe"] in names
    assert all(c["psnr_db"] >= 40 for c in report["candidates"])
    if int8_recipe(report["recipe"]):
        assert quantized is not None and quantized.parent == cache
    else:
        assert quantized is None
    written = quantized.stat().st_mtime_ns if quantized else None
    again, same = prepare(model, None)
    assert again == report and same == quantized
    assert (quantized.stat().st_mtime_ns if quantized else None) == written
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []


def batch_of(model, image: np.ndarray) -> np.ndarray:
    """``image`` as the model's input tensor."""
    return processing.prepare(image, model.info.io).pixels.transpose(2, 0, 1)[None]


def record_of(cache: Path) -> Path:
    (record,) = cache.glob("*.json")
    return record


@pytest.mark.skipif(not (available() and has_bf16()), reason="needs openvino and a bf16 CPU")
def test_a_bf16_verdict_runs_on_openvino_and_auto_follows_it(tmp_path, cache, samples):
    path = om.blur_stack(tmp_path / "blur.onnx")
    reference = load_model(path, device="cpu")
    assert load_model(path, precision="auto").precision == "fp32"  # nothing prepared yet
    prepare(reference, samples, min_speedup=0)
    record = json.loads(record_of(cache).read_text())
    record_of(cache).write_text(json.dumps(record | {"recipe": BF16}))
    for precision in ("fast", "auto"):
        fast = load_model(path, precision=precision)
        assert fast.provider == OPENVINO and fast.precision == BF16
        photo = samples[0][:200, :300]
        assert psnr(fast.transform(photo), reference.transform(photo)) >= 40


@pytest.mark.skipif(not available(), reason="needs openvino")
def test_an_int8_verdict_on_openvino_runs_its_int8_file_there(tmp_path, cache, samples):
    path = om.blur_stack(tmp_path / "blur.onnx")
    reference = load_model(path, device="cpu")
    prepare(reference, samples, min_speedup=0)
    record = json.loads(record_of(cache).read_text())
    recipe = "int8-qdq-conv" + ON_OPENVINO
    record_of(cache).write_text(json.dumps(record | {"recipe": recipe}))
    int8_file = cache / f"{file_sha256(path)}.{recipe}.onnx"
    feeds = [reference.feeds(batch_of(reference, photo[:200, :300])) for photo in samples]
    quantize(path, int8_file, feeds, ["Conv"])
    for precision in ("fast", "auto"):
        fast = load_model(path, precision=precision)
        assert fast.provider == OPENVINO and fast.precision == recipe
        photo = samples[0][:200, :300]
        assert psnr(fast.transform(photo), reference.transform(photo)) >= 40


def test_the_early_recipe_leaves_the_first_and_the_last_third_of_convolutions_float(tmp_path):
    import onnx

    path = om.blur_stack(tmp_path / "blur.onnx", layers=6, own_weights=True)
    nodes = named_nodes(path)
    names = [node.name for node in onnx.load(str(path)).graph.node]
    assert len(set(names)) == 6 and all(names) and names == [node.name for node in nodes]
    assert excluded(nodes, RECIPES["int8-qdq-conv-early"]) == [names[0], names[4], names[5]]
    assert excluded(nodes, RECIPES["int8-qdq-conv"]) == []
    single = named_nodes(om.identity(tmp_path / "one.onnx"))  # its one convolution is the first
    assert excluded(single, RECIPES["int8-qdq-conv-early"]) is None
    assert excluded(single, RECIPES["int8-qdq-conv"]) == []
    no_conv = named_nodes(om.absolute(tmp_path / "abs.onnx", (0.0, 1.0)))
    assert excluded(no_conv, RECIPES["int8-qdq-all"]) is None
    model = load_model(path)
    target = tmp_path / "early.onnx"
    feeds = [model.feeds(np.full((1, 3, 16, 16), v, np.float32)) for v in (0.2, 0.9)]
    quantize(path, target, feeds, ["Conv"], exclude=[names[0], names[4], names[5]])
    graph = onnx.load(str(target)).graph
    dequantized = {
        out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output
    }
    quantized = {
        node.name for node in graph.node if node.op_type == "Conv" and node.input[1] in dequantized
    }
    assert quantized == set(names[1:4])


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
