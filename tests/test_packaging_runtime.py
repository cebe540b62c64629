"""The runtime install alone (``pip install imagexform[cpu]``, no torch) runs ``imagexform batch``.

Uses the session's runtime-only virtual environment (tests/runtime_venv.py), which downloads
onnxruntime, OpenCV, numpy and onnx and takes a minute or two; it is marked ``slow`` but runs
by default, because a torch import sneaking into the inference side is exactly what only a
clean environment reveals.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from runtime_venv import TRAINING_ONLY, installed_packages

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "photos"
SHIPPED_MODEL = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"


def test_runtime_only_install_runs_batch_without_torch(tmp_path, runtime_venv):
    installed = installed_packages(runtime_venv)
    assert {"imagexform", "onnxruntime", "opencv-python-headless", "numpy", "onnx"} <= installed
    assert not installed & TRAINING_ONLY

    out = tmp_path / "out"
    report = tmp_path / "report.json"
    run = runtime_venv.run(
        runtime_venv.imagexform,
        "batch",
        PHOTOS,
        out,
        "--model",
        SHIPPED_MODEL,
        "--report",
        report,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    photos = sorted(p.name for p in PHOTOS.iterdir())
    assert sorted(p.name for p in out.iterdir()) == photos
    summary = json.loads(report.read_text())
    assert summary["totals"]["ok"] == len(photos)
    assert summary["model"]["provider"] == "CPUExecutionProvider"
    for name in photos:  # the shipped upscaler really ran: every output is 4x its input
        source = cv2.imread(str(PHOTOS / name), cv2.IMREAD_UNCHANGED)
        upscaled = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert upscaled.shape[:2] == (source.shape[0] * 4, source.shape[1] * 4)


def test_an_architecture_without_a_template_says_so_before_downloading(tmp_path, runtime_venv):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[model]]\nname = "swin"\nfamily = "sr"\ntask = "upscale"\n'
        'url = "http://127.0.0.1:9/swinir.pth"\n'
    )
    home = tmp_path / "home"
    pull = runtime_venv.run(
        runtime_venv.imagexform,
        "models",
        "pull",
        "swin",
        env={"IMAGEXFORM_CATALOG": str(catalog), "IMAGEXFORM_HOME": str(home)},
    )
    assert pull.returncode == 2
    assert "swin: no graph template converts this architecture without torch" in pull.stderr
    assert "imagexform[train]" in pull.stderr
    assert not home.exists()
