"""Fast neural style: the published layout, import and export, training, and bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conformance import assert_matches, case_spec, load_manifest, load_state, run_fixture

from imagexform.cli import cli
from imagexform.errors import UserError
from imagexform.io.images import read_image
from imagexform.losses.perceptual import RANDOM_VGG_ENV
from imagexform.runtime import load_model
from imagexform.runtime.modelfile import inspect_model
from imagexform_style.importer import FastNeuralStyleImporter
from imagexform_style.losses import gram_matrix
from imagexform_style.networks import TransformerNet

CASES = [
    ("fns_transformer_net", None),
    ("fns_transformer_net", "fns_transformer_net_legacy_running_keys"),
]
TINY = ["width=4", "image_size=32", "batch_size=2", "log_every=1", "style_layers=relu1_2,relu2_2"]


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        image = cv2.imread(f"assets/photos/{name}.jpg")
        cv2.imwrite(str(folder / f"{name}.png"), cv2.resize(image, (48, 40)))
    return folder


@pytest.fixture
def painting(tmp_path: Path) -> Path:
    image = np.zeros((40, 40, 3), np.uint8)
    for x in range(0, 40, 8):
        cv2.line(image, (x, 0), (40 - x, 40), (30, 200, 250), 2)
    return Path(cv2.imwrite(str(tmp_path / "painting.png"), image) and tmp_path / "painting.png")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[1] or case[0])
def test_published_layout_imports_and_reproduces_the_reference(case):
    folder, entry, spec = case_spec(load_manifest(), case)
    imported = FastNeuralStyleImporter().load(load_state(folder, spec))
    assert imported is not None and imported.config.width == 32
    assert_matches(run_fixture(imported.nets["G"], folder, entry), folder, entry["outputs"][0])


def test_import_export_runs_in_onnx_runtime_like_torch(tmp_path):
    folder, entry, spec = case_spec(load_manifest(), CASES[1])
    target = tmp_path / "candy.onnx"
    result = invoke("import", folder / spec["state_dict"]["file"], "-o", target)
    assert result.exit_code == 0, result.output
    info = inspect_model(target).info
    assert info.family == "style" and info.io.value_range == (0.0, 255.0)
    assert info.io.adjustments == ("strength", "preserve_color")
    x = np.load(folder / entry["inputs"][0]["file"])
    ours = load_model(target).run(x)
    expected = np.load(folder / entry["outputs"][0]["file"])
    assert np.abs(ours - expected).max() <= 1e-4 * 255

    photos = tmp_path / "in"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), cv2.imread("assets/photos/coffee.jpg")[:64, :80])
    flags = ("--model", target, "--strength", 0.5, "--preserve-color")
    result = invoke("batch", photos, tmp_path / "out", *flags)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out" / "a.png").shape == (64, 80, 3)


def test_files_that_are_not_a_transformer_net_say_what_was_expected(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4)}, other)
    result = invoke("import", other, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert "fast-neural-style: TransformerNet .pth from pytorch/examples" in result.output
    state = TransformerNet(8).state_dict()
    del state["res3.conv1.conv2d.weight"]
    with pytest.raises(
        UserError, match=r"Missing key.*res3\.conv1\.conv2d\.weight.*expected conv1-3"
    ):
        FastNeuralStyleImporter().load(state)


def test_gram_matrix_by_hand():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # 1 image, 2 channels, 1×2
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    assert torch.allclose(gram_matrix(features), expected)


def test_training_steps_lower_the_loss_and_save_the_painting(
    photos, painting, tmp_path, monkeypatch
):
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")  # test-only: no ImageNet weights here
    run = tmp_path / "run"
    sets = [
        part
        for item in [*TINY, "steps=12", "lr=0.01", f"style_image={painting}"]
        for part in ("--set", item)
    ]
    result = invoke("train", "style", "--data", photos, "--out", run, "--device", "cpu", *sets)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("step ")]
    totals = [sum(float(v) for v in line.split()[-5::2]) for line in lines]
    assert all(np.isfinite(totals)) and totals[-1] < totals[0]

    target = tmp_path / "mine.onnx"
    assert invoke("export", run, "-o", target).exit_code == 0
    icon = base64.b64decode(inspect_model(target).info.icon)
    thumbnail = cv2.imdecode(np.frombuffer(icon, np.uint8), cv2.IMREAD_COLOR)
    assert thumbnail.shape == (96, 96, 3)


def test_bad_style_and_content_inputs(photos, painting, tmp_path, monkeypatch):
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")

    def train(data: Path, *settings: str):
        sets = [part for item in [*TINY, "steps=1", *settings] for part in ("--set", item)]
        return invoke("train", "style", "--data", data, "--out", tmp_path / "run", *sets)

    missing = train(photos, f"style_image={tmp_path / 'nowhere.jpg'}")
    assert missing.exit_code == 2 and "nowhere.jpg" in missing.output
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    unreadable = train(photos, f"style_image={broken}")
    assert unreadable.exit_code == 2 and "broken.png" in unreadable.output
    assert "style_image=PATH" in train(photos).output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = train(empty, f"style_image={painting}")
    assert nothing.exit_code == 2 and "holds no images" in nothing.output
    small = train(photos, f"style_image={painting}", "image_size=64")
    assert small.exit_code == 0, small.output
    assert "3 photo(s) smaller than image_size 64 are enlarged" in small.output
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()


def test_training_measures_fid_of_restyled_photos_against_the_painting(
    photos, painting, tmp_path, monkeypatch
):
    """val/ photos restyled, compared with crops of the painting (the style's only real
    image); a tiny feature network stands in for Inception (no download in tests)."""
    from feature_nets import tiny_inception_weights

    monkeypatch.setenv(RANDOM_VGG_ENV, "1")
    data = tmp_path / "content"
    (data / "val").mkdir(parents=True)
    photos.rename(data / "train")
    for name in ("a", "b", "c"):
        cv2.imwrite(str(data / "val" / f"{name}.png"), cv2.imread(str(painting)))
    weights = tiny_inception_weights(tmp_path)
    run = tmp_path / "run"
    values = [*TINY, "steps=2", f"style_image={painting}", "eval_metric=kid", "eval_every=1"]
    values += [f"feature_weights={weights}"]
    sets = [part for item in values for part in ("--set", item)]
    result = invoke("train", "style", "--data", data, "--out", run, "--device", "cpu", *sets)
    assert result.exit_code == 0, result.output
    assert "3 validation samples" in result.output and "val/kid" in result.output
    assert (run / "checkpoints" / "best").is_file()
