"""The plugin's own tests: run them with IMAGEXFORM_LOAD_PLUGINS=deblur so the user's other
plugins stay out of the way."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime
from click.testing import CliRunner

from imagexform.cli import cli


def test_train_and_export(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_LOAD_PLUGINS", "deblur")
    data = tmp_path / "pairs"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        sharp = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        cv2.imwrite(
            str(data / f"{index}.png"), np.hstack([cv2.GaussianBlur(sharp, (5, 5), 2), sharp])
        )
    runner = CliRunner()
    run = tmp_path / "run"
    sets = ["--set", "steps=2", "--set", "width=4"]
    assert (
        runner.invoke(
            cli, ["train", "deblur", "--data", str(data), "--out", str(run), *sets]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(cli, ["export", str(run), "-o", str(tmp_path / "deblur.onnx")]).exit_code == 0
    )
    session = onnxruntime.InferenceSession(str(tmp_path / "deblur.onnx"))
    (out,) = session.run(None, {"image": np.zeros((1, 3, 32, 32), np.float32)})
    assert out.shape == (1, 3, 32, 32)
