"""A virtual environment with the runtime install alone (``pip install imagexform[cpu]``, no
torch), built once per test session and shared by the tests that must prove something works
without torch: batch (test_packaging_runtime) and checkpoint conversion (test_convert_*).

Installing downloads onnxruntime, OpenCV, numpy and onnx, a minute or two; a machine that
cannot reach the package index skips those tests with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINING_ONLY = {"torch", "torchvision", "kornia", "onnxscript", "safetensors", "spandrel"}


@dataclass(frozen=True)
class RuntimeVenv:
    python: Path
    imagexform: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
        env = {**self.env, **kwargs.pop("env", {})}
        command = [str(a) for a in args]
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, **kwargs
        )


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
    """A machine without network access cannot build the environment; say so instead of
    failing after pip's retries. One project's page is asked for (pip's, on every index):
    the index root lists every project, too much to read in a few seconds."""
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/pip/", timeout=5) as page:
            page.read()
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"the package index {index} is not reachable ({exc})")


def build_runtime_venv(folder: Path) -> RuntimeVenv:
    skip_unless_reachable(package_index())
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    made = RuntimeVenv(scripts / "python", scripts / "imagexform", env)
    source = copy_project(folder / "src")
    install = made.run(
        made.python, "-m", "pip", "install", "--quiet", f"{source}[cpu]", timeout=1200
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return made


def installed_packages(venv: RuntimeVenv) -> set[str]:
    listed = venv.run(venv.python, "-m", "pip", "list", "--format=json")
    assert listed.returncode == 0, listed.stderr
    return {p["name"].lower() for p in json.loads(listed.stdout)}
