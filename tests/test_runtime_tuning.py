"""Session settings measured per model: denormals flushed when the output stays the same, the
verdict cached per model file and machine."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from imagexform.io.digest import file_sha256
from imagexform.runtime import load_model
from imagexform.runtime.cache import cache_dir, machine_key
from imagexform.runtime.tuning import MIN_SPEEDUP, UNCHANGED, VERSION, probe

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

from imagexform.family import IOSpec

FLUSH = "session.set_denormal_as_zero"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))


def record_path(model_path):
    name = f"{file_sha256(model_path)}.{machine_key()}.v{VERSION}.json"
    return cache_dir() / "session" / name


def flushes(model) -> bool:
    options = model.session.get_session_options()
    try:
        return options.get_session_config_entry(FLUSH) == "1"
    except RuntimeError:  # ONNX Runtime's answer for an entry never set
        return False


def write_verdict(model_path, **verdict) -> None:
    record = record_path(model_path)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(verdict))


def test_the_first_load_measures_and_caches_a_consistent_verdict(tmp_path):
    path = om.blur_stack(tmp_path / "blur.onnx")
    model = load_model(path, device="cpu", threads=2)
    verdict = model.session_tuning
    assert verdict is not None and verdict.max_difference <= UNCHANGED and verdict.speedup > 0
    assert verdict.flush_denormals == (verdict.speedup >= MIN_SPEEDUP)
    assert flushes(model) == verdict.flush_denormals
    assert json.loads(record_path(path).read_text()) == asdict(verdict)


def test_a_cached_verdict_to_flush_is_applied_and_keeps_the_output(tmp_path):
    path = om.blur_stack(tmp_path / "blur.onnx")
    write_verdict(path, flush_denormals=True, max_difference=0.0, speedup=1.4)
    model = load_model(path, device="cpu", threads=2)
    assert flushes(model) and model.session_tuning.speedup == 1.4
    write_verdict(path, flush_denormals=False, max_difference=0.0, speedup=1.0)
    plain = load_model(path, device="cpu")
    assert not flushes(plain) and not plain.session_tuning.flush_denormals
    batch = probe(model)
    np.testing.assert_allclose(model.run(batch), plain.run(batch), atol=1e-6)


def test_an_unreadable_verdict_is_measured_again(tmp_path):
    path = om.blur_stack(tmp_path / "blur.onnx")
    write_verdict(path, flush="maybe")
    model = load_model(path, device="cpu")
    assert model.session_tuning is not None
    saved = json.loads(record_path(path).read_text())
    assert saved["flush_denormals"] == model.session_tuning.flush_denormals


def test_the_probe_fits_the_model(tmp_path):
    upscaler = load_model(om.upscaler(tmp_path / "x2.onnx", 2))
    assert probe(upscaler).shape == (1, 3, 64, 64)
    info = om.model_info(IOSpec(value_range=(-1.0, 1.0), size_multiple=48))
    multiple = load_model(om.identity(tmp_path / "m.onnx", info))
    batch = probe(multiple)
    assert batch.shape == (1, 3, 288, 288) and batch.min() >= -1 and batch.max() <= 1
    assert batch.std() > 0.1
