"""``imagexform doctor`` reports the installation and catches known-bad combinations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def plant(site: Path, name: str, version: str) -> None:
    """A distribution as pip would leave it: only its metadata, which is all doctor reads."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def doctor(site: Path | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    if site is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(site), environment.get("PYTHONPATH")])
        )
    return subprocess.run(
        [sys.executable, "-m", "imagexform", "doctor"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_a_healthy_installation_lists_versions_and_plugins():
    result = doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("imagexform", "onnxruntime", "CPUExecutionProvider", "plugin pix2pix"):
        assert expected in result.stdout
    assert "no problem(s) found" in result.stdout


def test_duplicate_runtimes_and_the_gui_opencv_are_problems_with_fixes(tmp_path):
    plant(tmp_path, "onnxruntime-gpu", "1.20.0")
    plant(tmp_path, "opencv-python", "4.10.0.84")
    result = doctor(tmp_path)
    assert result.returncode == 1
    assert "both onnxruntime and onnxruntime-gpu are installed" in result.stdout
    assert "fix: pip uninstall -y onnxruntime onnxruntime-gpu" in result.stdout
    assert "opencv-python is installed beside opencv-python-headless" in result.stdout
    assert "2 problem(s) found" in result.stdout


def test_a_plugin_that_fails_to_import_is_a_problem(tmp_path):
    plant(tmp_path, "imagexform-broken", "0.1")
    (tmp_path / "imagexform_broken-0.1.dist-info" / "entry_points.txt").write_text(
        "[imagexform]\nbroken = imagexform_broken\n"
    )
    (tmp_path / "imagexform_broken.py").write_text("raise ImportError('needs numpy 3')\n")
    result = doctor(tmp_path)
    assert result.returncode == 1
    assert "plugin broken failed" in result.stdout and "needs numpy 3" in result.stdout
    assert "plugin pix2pix  " in result.stdout  # the others still load
