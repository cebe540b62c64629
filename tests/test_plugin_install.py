"""A third-party plugin's life: the template is built as a wheel, installed with
``imagexform plugins install`` into a fresh virtual environment, trained and exported through
the normal CLI, broken, and still uninstalled. No network: pip gets ``--no-index``, and the
new environment sees this one's packages (torch, imagexform) through a site directory."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from imagexform.cli import cli
from imagexform.user_config import CONFIG_ENV

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "plugin-template"


def run(python: Path, *args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(python), *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("plugin-env")
    env = {**os.environ, CONFIG_ENV: str(work / "config")}
    env.pop("IMAGEXFORM_LOAD_PLUGINS", None)
    subprocess.run([sys.executable, "-m", "venv", str(work / "env")], check=True, timeout=120)
    python = work / "env" / "bin" / "python"
    target_site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=env
        ).stdout.strip()
    )
    ours = [path for path in site.getsitepackages() if Path(path).is_dir()]
    lines = [f"import site; site.addsitedir({path!r})" for path in ours]
    (target_site / "zz_imagexform_host.pth").write_text("\n".join(lines) + "\n")
    return python, env


def test_install_list_train_export_break_and_uninstall(environment, tmp_path):
    python, env = environment
    wheels = tmp_path / "wheels"
    source = tmp_path / "template"  # built from a copy: no build/ or egg-info in the repo
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "-w", str(wheels), str(source)], check=True, capture_output=True, timeout=300
    )
    (wheel,) = wheels.glob("imagexform_deblur-*.whl")

    installed = run(
        python,
        "-m",
        "imagexform",
        "plugins",
        "install",
        wheel,
        "--",
        "--no-index",
        "--no-deps",
        env=env,
    )
    assert "added plugin deblur (from imagexform-deblur)" in installed.stdout
    listed = run(python, "-m", "imagexform", "plugins", "list", "--json", env=env)
    assert '"name": "deblur"' in listed.stdout and '"status": "loaded"' in listed.stdout

    data = tmp_path / "pairs"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        sharp = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        pair = np.hstack([cv2.GaussianBlur(sharp, (5, 5), 2), sharp])
        cv2.imwrite(str(data / f"{index}.png"), pair)
    sets = ["--set", "steps=2", "--set", "width=4"]
    run(
        python,
        "-m",
        "imagexform",
        "train",
        "deblur",
        "--data",
        data,
        "--out",
        tmp_path / "run",
        *sets,
        env=env,
    )
    run(
        python,
        "-m",
        "imagexform",
        "export",
        tmp_path / "run",
        "-o",
        tmp_path / "deblur.onnx",
        env=env,
    )
    assert (tmp_path / "deblur.onnx").stat().st_size > 0
    photo = tmp_path / "blurred.png"
    cv2.imwrite(
        str(photo), cv2.GaussianBlur(rng.integers(0, 256, (48, 48, 3), np.uint8), (5, 5), 2)
    )
    editor = {**env, "QT_QPA_PLATFORM": "offscreen", "IMAGEXFORM_HOME": str(tmp_path / "home")}
    script = Path(__file__).with_name("editor_run.py")
    used = json.loads(run(python, script, tmp_path / "deblur.onnx", photo, env=editor).stdout)
    assert used["family"] == "deblur" and used["steps"] == 1 and used["shape"] == [48, 48, 3]

    package = Path(
        run(
            python, "-c", "import imagexform_deblur; print(imagexform_deblur.__file__)", env=env
        ).stdout.strip()
    )
    package.write_text("raise ImportError('broken on purpose')\n")
    broken = run(python, "-m", "imagexform", "plugins", "list", "--json", env=env)
    assert "broken on purpose" in broken.stdout
    run(python, "-m", "imagexform", "train", "pix2pix", "--show-config", env=env)  # others work
    removed = run(python, "-m", "imagexform", "plugins", "uninstall", "deblur", "-y", env=env)
    assert "removed imagexform-deblur (plugins: deblur)" in removed.stdout
    assert (
        "deblur" not in run(python, "-m", "imagexform", "plugins", "list", "--json", env=env).stdout
    )


def test_disable_and_enable_persist(tmp_path, monkeypatch):
    from imagexform.plugins import discover

    monkeypatch.setenv(CONFIG_ENV, str(tmp_path))
    monkeypatch.delenv("IMAGEXFORM_LOAD_PLUGINS", raising=False)
    result = CliRunner().invoke(cli, ["plugins", "disable", "style"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = discover().records["style"]
    assert record.status == "disabled" and "plugins enable style" in record.error
    monkeypatch.setenv("IMAGEXFORM_LOAD_PLUGINS", "style")  # overrides for one run
    assert discover().records["style"].status == "loaded"
    monkeypatch.delenv("IMAGEXFORM_LOAD_PLUGINS")
    assert CliRunner().invoke(cli, ["plugins", "enable", "style"]).exit_code == 0
    assert discover().records["style"].status == "loaded"
    unknown = CliRunner().invoke(cli, ["plugins", "disable", "nosuch"])
    assert unknown.exit_code == 2 and "no installed plugin named 'nosuch'" in unknown.output
