"""FID and KID (clean-fid) for translation models: the statistics path with small feature
networks built here (no download), the reference cache, the eval command per direction,
and every bad input named in one line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

pytest.importorskip("cleanfid")
pytest.importorskip("onnx")
from batch_models import info, invert_model
from feature_nets import tiny_inception_weights
from onnx_models import identity

from imagexform.cli import cli
from imagexform.errors import UserError
from imagexform.fidelity import folder_features, reference_features, score_features
from imagexform.fidelity.evaluation import evaluate_fidelity
from imagexform.fidelity.features import FeatureError, custom_extractor, load_extractor
from imagexform.io.images import list_images


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_inception_weights(tmp_path_factory.mktemp("weights"))


def shapes(folder: Path, count: int, bright: bool, size: int = 48, seed: int = 0) -> Path:
    """Filled shapes on a background: bright colours (128..255) or dark ones (0..127)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    low, high = (128, 256) if bright else (0, 128)
    for index in range(count):
        image = np.full((size, size, 3), rng.integers(low, high, 3), np.uint8)
        for _ in range(3):
            colour = tuple(int(c) for c in rng.integers(low, high, 3))
            centre = tuple(int(c) for c in rng.integers(0, size, 2))
            cv2.circle(image, centre, int(rng.integers(4, size // 3)), colour, -1)
        cv2.imwrite(str(folder / f"{index:02d}.png"), image)
    return folder


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("domains")
    shapes(root / "testA", 10, bright=False, seed=1)
    shapes(root / "testB", 10, bright=True, seed=2)
    return root


@pytest.fixture
def extractor():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 4, 7, stride=8), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
    net = nn.Sequential(net, nn.Flatten()).eval()
    return custom_extractor(lambda batch: net(batch / 255.0), "tiny-test-net")


def test_fid_of_a_folder_with_itself_is_zero_and_grows_with_the_difference(domains, extractor):
    dark = folder_features(list_images(domains / "testA"), extractor)
    bright = folder_features(list_images(domains / "testB"), extractor)
    assert dark.shape == (10, 16)
    same = score_features(dark, dark, ("fid", "kid"), "clean")
    apart = score_features(dark, bright, ("fid", "kid"), "clean")
    assert abs(same.fid) < 1e-6 and apart.fid > 1e-2
    # KID is unbiased, so a set against itself scatters around 0 rather than sitting on it
    assert apart.kid > 10 * abs(same.kid)
    assert any("biased" in text for text in apart.warnings)


def test_kid_is_the_unbiased_polynomial_mmd(extractor):
    """With subsets as large as the sets, every subset is the whole set: the estimate must
    equal the unbiased MMD² with the cubic polynomial kernel, computed here directly."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 8)), rng.normal(0.5, 1.2, size=(12, 8))
    scores = score_features(x, y, ("kid",), "clean", kid_subset_size=12)

    def kernel(a, b):
        return (a @ b.T / a.shape[1] + 1) ** 3

    n = len(x)
    within = kernel(x, x).sum() - np.trace(kernel(x, x)) + kernel(y, y).sum()
    within -= np.trace(kernel(y, y))
    expected = within / (n * (n - 1)) - 2 * kernel(x, y).sum() / (n * n)
    assert scores.kid == pytest.approx(expected, rel=1e-9)
    assert scores.kid_subset_size == 12 and scores.fid is None


def test_reference_features_are_cached_by_content(domains, extractor, tmp_path):
    folder = shapes(tmp_path / "ref", 4, bright=True)
    cache = tmp_path / "cache"
    first = reference_features(folder, extractor, cache=cache)
    assert len(list(cache.glob("*.npy"))) == 1

    def broken(batch):
        raise AssertionError("the cached reference must not be recomputed")

    cached = custom_extractor(broken, extractor.identity)
    assert np.array_equal(reference_features(folder, cached, cache=cache), first)
    shapes(folder, 4, bright=True, seed=9)  # new content under the same names
    with pytest.raises(AssertionError, match="must not be recomputed"):
        reference_features(folder, cached, cache=cache)
    other = custom_extractor(broken, "another network")
    with pytest.raises(AssertionError):
        reference_features(shapes(tmp_path / "ref2", 4, True), other, cache=cache)


def test_eval_scores_each_direction_of_a_pair(domains, weights, tmp_path, monkeypatch):
    """A pair exported with --variant all: A2B turns dark into bright (inverts), so its
    outputs come close to testB; an identity B2A leaves bright images far from testA."""
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))
    pair = info("pair")
    pair.variant = "A2B"
    invert_model(tmp_path / "shapes-A2B.onnx", pair)
    pair.variant = "B2A"
    identity(tmp_path / "shapes-B2A.onnx", pair)
    args = ["eval", str(tmp_path / "shapes-A2B.onnx"), "--data", str(domains)]
    # KID only: FID's matrix square root of 2048-wide features costs a minute on 2 cores
    args += ["--metric", "kid", "--feature-weights", str(weights), "--device", "cpu"]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_direction = {r["direction"]: r for r in report["results"]}
    assert set(by_direction) == {"A2B", "B2A"}
    a2b, b2a = by_direction["A2B"], by_direction["B2A"]
    assert Path(a2b["data"]).name == "testA" and Path(a2b["reference"]).name == "testB"
    assert Path(b2a["data"]).name == "testB" and Path(b2a["reference"]).name == "testA"
    assert a2b["generated_images"] == 10 and a2b["mode"] == "clean"
    assert a2b["kid"] < b2a["kid"] / 2 and a2b["fid"] is None
    assert a2b["kid_subset_size"] == 10
    assert any("KID with subsets of 10" in note for note in report["notes"])

    table = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert table.exit_code == 0 and "A2B" in table.stdout and "KID" in table.stdout


def test_reference_given_explicitly_and_different_sizes_said_once(weights, tmp_path):
    data = shapes(tmp_path / "data", 3, bright=False)
    shapes(data, 1, bright=False, size=40, seed=5)  # 00.png replaced by a smaller image
    reference = shapes(tmp_path / "reference", 3, bright=True, size=56)
    model = identity(tmp_path / "same.onnx", info("same"))
    notes: list[str] = []
    evaluation = evaluate_fidelity(
        model,
        data,
        load_extractor("clean", weights),
        reference=reference,
        metrics=("kid",),
        options={"device": "cpu"},
        on_note=notes.append,
    )
    assert len(evaluation.results) == 1 and evaluation.results[0].comparison.label == ""
    assert sum("different sizes" in note for note in notes) == 1


def test_bad_inputs_name_the_problem(domains, weights, extractor, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="empty: the reference folder holds no images"):
        reference_features(empty, extractor, cache=tmp_path / "c")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="none of its 1 images is readable"):
        reference_features(broken, extractor, cache=tmp_path / "c")
    one = folder_features(list_images(domains / "testA")[:1], extractor)
    with pytest.raises(UserError, match="at least 2 images"):
        score_features(one, one, ("kid",), "clean")

    with pytest.raises(FeatureError, match="no such feature weights file"):
        load_extractor("clean", tmp_path / "missing.pt")
    import cleanfid.downloads_helper

    monkeypatch.setattr(cleanfid.downloads_helper, "inception_url", "http://127.0.0.1:9/i.pt")
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "offline"))
    with pytest.raises(FeatureError) as raised:
        load_extractor("clean")
    message = str(raised.value)
    assert "--feature-weights" in message and "inception-2015-12-05.pt" in message
    assert str(tmp_path / "offline") in message and "\n" not in message
    assert not list((tmp_path / "offline").rglob("*.pt"))  # nothing half-downloaded left

    result = CliRunner().invoke(cli, ["eval", "x.onnx", "--data", ".", "--metric", "fid,psnr"])
    assert result.exit_code == 2 and "run them separately" in result.output
    result = CliRunner().invoke(cli, ["eval", "x.onnx", "--data", ".", "--metric", "fdi"])
    assert result.exit_code == 2 and "unknown metric fdi" in result.output


def test_training_measures_kid_and_keeps_the_best_checkpoint(make_pairs, weights, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from imagexform.train.checkpoint import find_checkpoint, list_checkpoints

    data = make_pairs(count=4, splits=("train", "val"))
    run = tmp_path / "run"
    values = ["netG=unet_32", "ngf=8", "ndf=8", "image_size=32", "load_size=36"]
    values += ["steps=6", "eval_every=2", "eval_metric=kid", f"feature_weights={weights}"]
    values += ["keep_last=1", "save_every=100", "val_every=100", "log_every=100"]
    values += ["early_stop_metric=val/kid", "early_stop_mode=min", "early_stop_patience=9"]
    args = ["train", "pix2pix", "--data", str(data), "--out", str(run), "--device", "cpu"]
    result = CliRunner().invoke(
        cli, [*args, *(part for v in values for part in ("--set", v))], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "val/kid" in result.output
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    measured = {event.step: event.value for event in events.Scalars("val/kid")}
    assert sorted(measured) == [2, 4, 6]
    best_step = min(measured, key=measured.get)
    best = find_checkpoint(run / "checkpoints" / "best")
    assert best is not None and best.name == f"step_{best_step:08d}"
    kept = {path.name for path in list_checkpoints(run / "checkpoints")}
    assert kept == {"step_00000006", best.name}  # keep_last=1 never prunes the best


def test_training_refuses_fid_it_cannot_measure(make_pairs, tmp_path):
    def train(data: Path, run: Path, *values: str):
        args = ["train", "pix2pix", "--device", "cpu", "--data", str(data), "--out", str(run)]
        values = ("image_size=32", "ngf=8", "eval_metric=fid", *values)
        return CliRunner().invoke(cli, [*args, *(part for v in values for part in ("--set", v))])

    result = train(make_pairs(count=2, name="flat"), tmp_path / "a")
    assert result.exit_code == 2 and "needs a validation split" in result.output
    data = make_pairs(count=2, splits=("train", "val"), name="split")
    result = train(data, tmp_path / "b", f"feature_weights={tmp_path / 'inception.pt'}")
    assert result.exit_code == 2 and "no such feature weights file" in result.output
    assert not (tmp_path / "b" / "checkpoints").exists()
