"""The OpenVINO engine behind the runtime's one interface: same results as ONNX Runtime through
tiling, conditions, adjustments, image-wide statistics, progress and cancelling; chosen by
``device="auto"`` only as measured and cached."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.io.digest import file_sha256
from imagexform.runtime import Adjustments, load_model
from imagexform.runtime.cache import cache_dir, machine_key
from imagexform.runtime.engines import MIN_SECONDS, ONNXRUNTIME, OPENVINO
from imagexform.runtime.openvino_engine import available
from imagexform.runtime.session import CPU
from imagexform.runtime.session import OPENVINO as OPENVINO_PROVIDER
from imagexform.runtime.tuning import UNCHANGED, VERSION

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip
from test_runtime_norm_stats import instance_norm_net, photo

from imagexform.family import TileHints

needs_openvino = pytest.mark.skipif(
    not available(), reason="the openvino package (imagexform[openvino]) is not installed"
)
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))


def image(height: int = 70, width: int = 90) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_choice(model_path, engine: str) -> None:
    record = cache_dir() / "engine" / f"{file_sha256(model_path)}.{machine_key()}.v{VERSION}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    verdict = {"engine": engine, "max_difference": 0.0, "speedup": 1.5, "seconds": 0.1}
    record.write_text(json.dumps(verdict))


@needs_openvino
def test_tiles_adjustments_and_progress_match_onnx_runtime(tmp_path):
    path = om.blur_stack(tmp_path / "blur.onnx")
    ours, reference = load_model(path, device="openvino"), load_model(path, device="cpu")
    assert ours.provider == OPENVINO_PROVIDER and reference.provider == CPU
    picture = image()
    seen: list[tuple[int, int]] = []
    options = {"tile_size": 32, "overlap": 8, "adjustments": Adjustments(strength=0.6)}
    got = ours.transform(picture, progress=lambda d, t: seen.append((d, t)), **options)
    want = reference.transform(picture, **options)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1]

    def cancel(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ours.transform(picture, tile_size=32, overlap=8, progress=cancel)


@needs_openvino
def test_conditions_and_upscaling_reach_the_openvino_graph(tmp_path):
    shifter = load_model(om.shifter(tmp_path / "shift.onnx"), device="openvino")
    flat = np.full((16, 16, 3), 100, np.uint8)
    up = shifter.transform(flat, {"shift": [0.2, 0.0]})
    assert int(up[0, 0, 0]) == 100 + 51
    upscaler = load_model(om.upscaler(tmp_path / "x2.onnx", 2), device="openvino")
    picture = image(20, 30)
    np.testing.assert_array_equal(upscaler.transform(picture), picture.repeat(2, 0).repeat(2, 1))


@needs_openvino
def test_image_wide_statistics_tiles_beside_openvino(tmp_path):
    path = instance_norm_net(tmp_path / "in.onnx", TileHints(receptive_field=3))
    ours, reference = load_model(path, device="openvino"), load_model(path, device="cpu")
    picture = photo(96)
    got = ours.transform(picture, tile_size=48).astype(int)
    assert np.abs(got - reference.transform(picture, tile_size=48)).max() <= 1


@needs_openvino
def test_auto_measures_once_and_follows_the_cached_choice(tmp_path):
    path = om.blur_stack(tmp_path / "blur.onnx")
    model = load_model(path)
    choice = model.engine_choice
    assert choice is not None and choice.max_difference <= UNCHANGED
    assert choice.engine == ONNXRUNTIME and model.provider == CPU  # too small to be worth it
    assert choice.seconds < MIN_SECONDS
    write_choice(path, OPENVINO)
    assert load_model(path).provider == OPENVINO_PROVIDER
    write_choice(path, ONNXRUNTIME)
    assert load_model(path).provider == CPU
    assert load_model(path, device="cpu").engine_choice is None


@pytest.mark.skipif(available(), reason="checks the message shown without openvino")
def test_without_openvino_the_engine_names_the_extra(tmp_path):
    with pytest.raises(UserError, match=r"imagexform\[openvino\]"):
        load_model(om.blur_stack(tmp_path / "blur.onnx"), device="openvino")


SIGNAL_CHILD = """
import faulthandler, gc, os, signal, sys
from pathlib import Path
import numpy as np
from imagexform.runtime import load_model
from imagexform.runtime.openvino_engine import has_bf16

faulthandler.enable()  # an alternate signal stack of its own, as under pytest
models = [load_model(Path(sys.argv[1]), device="openvino")]
has_bf16()
models.append(load_model(Path(sys.argv[1]), device="openvino"))
for model in models:
    model.transform(np.zeros((40, 40, 3), np.uint8))
del model
while models:  # released in the order they were made
    models.pop(0)
    gc.collect()
signal.signal(signal.SIGUSR1, lambda *_: print("handled", flush=True))
os.kill(os.getpid(), signal.SIGUSR1)
print("alive", flush=True)
"""


@needs_openvino
def test_signals_still_reach_python_after_openvino_ran(tmp_path):
    """OpenVINO's CPU plugin installs an alternate signal stack of its own for each ``Core``
    and restores them last-in-first-out; with a ``Core`` per model, released in the order
    they were made, the stack left installed was freed memory and the next signal with a
    Python handler (Ctrl-C's) killed the process with SIGSEGV."""
    path = om.blur_stack(tmp_path / "blur.onnx")
    child = subprocess.run(
        [sys.executable, "-c", SIGNAL_CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert child.stdout.split() == ["handled", "alive"]
