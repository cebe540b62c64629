"""The runtime install alone (``pip install imagexform[cpu]``, no torch) runs ``imagexform batch``.

Installs into a fresh virtual environment, so it downloads onnxruntime, OpenCV and numpy
and takes a minute or two; it is marked ``slow`` but runs by default, because a torch import
sneaking into the inference side is exactly what only a clean environment reveals.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "photos"
SHIPPED_MODEL = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"
TRAINING_ONLY = {"torch", "torchvision", "kornia", "onnx", "onnxscript", "safetensors"}


def copy_project(target: Path) -> Path:
    """The files a source install needs, so the build never writes into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("imagexform", "plugins"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    return target


def package_index() -> str:
    """The index pip would install from: PIP_INDEX_URL, pip's configuration, or PyPI."""
    configured = os.environ.get("PIP_INDEX_URL")
    if not configured:
        asked = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        configured = asked.stdout.strip() if asked.returncode == 0 else ""
    return configured or "https://pypi.org/simple/"


def skip_unless_reachable(index: str) -> None:
    """A machine without network access cannot run this test; say so instead of failing
    after pip's retries. One project's page is asked for (pip's, on every index): the index
    root lists every project, too much to read in a few seconds."""
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/pip/", timeout=5) as page:
            page.read()
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"the package index {index} is not reachable ({exc})")


def test_runtime_only_install_runs_batch_without_torch(tmp_path):
    skip_unless_reachable(package_index())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    python = scripts / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{copy_project(tmp_path / 'src')}[cpu]"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"imagexform", "onnxruntime", "opencv-python-headless", "numpy"} <= installed
    assert not installed & TRAINING_ONLY

    model = SHIPPED_MODEL
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            str(scripts / "imagexform"),
            "batch",
            str(PHOTOS),
            str(out),
            "--model",
            str(model),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
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

    # A published checkpoint needs torch to convert: said before anything is downloaded.
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[model]]\nname = "zebra"\nfamily = "pix2pix"\ntask = "horse to zebra"\n'
        'url = "http://127.0.0.1:9/g.pth"\n'
    )
    home = tmp_path / "home"
    pull = subprocess.run(
        [str(scripts / "imagexform"), "models", "pull", "zebra"],
        capture_output=True,
        text=True,
        env={**env, "IMAGEXFORM_CATALOG": str(catalog), "IMAGEXFORM_HOME": str(home)},
        timeout=120,
    )
    assert pull.returncode == 2 and "zebra: converting a published checkpoint needs torch" in (
        pull.stderr
    )
    assert not home.exists()
