"""Every bad input to `imagexform train` ends in one clear line, and nothing is lost."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from imagexform.cli import cli

TINY = ["--set", "netG=unet_32", "--set", "ngf=8", "--set", "ndf=8", "--set", "image_size=32"]


def run(*args: str):
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def train(data: Path, out: Path, *extra: str):
    return run("pix2pix", "--data", str(data), "--out", str(out), "--device", "cpu", *TINY, *extra)


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_unknown_family(tmp_path):
    line = error_line(run("pix3pix", "--data", str(tmp_path), "--out", str(tmp_path / "r")))
    assert "unknown family 'pix3pix'; available: " in line and "pix2pix" in line


def test_missing_data_folder(tmp_path):
    line = error_line(train(tmp_path / "nowhere", tmp_path / "run"))
    assert "nowhere" in line and "does not exist" in line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_empty_data_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    line = error_line(train(tmp_path / "empty", tmp_path / "run"))
    assert "empty" in line and "no images" in line


def test_folder_of_non_images(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "notes.md"):
        (folder / name).write_text("hello")
    line = error_line(train(folder, tmp_path / "run"))
    assert "texts" in line and "none an image" in line


def test_unpaired_names_are_listed(make_pairs, tmp_path):
    data = make_pairs(count=3, layout="folders")
    (data / "B" / "001.png").rename(data / "B" / "zebra.png")
    line = error_line(train(data, tmp_path / "run"))
    assert "001" in line and "zebra" in line


def test_pairs_of_different_sizes_are_refused(make_pairs, tmp_path):
    import cv2

    data = make_pairs(count=3, layout="folders")
    image = cv2.imread(str(data / "B" / "002.png"))
    cv2.imwrite(str(data / "B" / "002.png"), cv2.resize(image, (40, 40)))
    line = error_line(train(data, tmp_path / "run"))
    assert "002" in line and "40" in line


def test_corrupt_image_is_skipped_and_training_continues(make_pairs, tmp_path):
    data = make_pairs(count=4)
    (data / "001.png").write_bytes((data / "001.png").read_bytes()[:100])
    result = train(data, tmp_path / "run", "--set", "steps=1")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "001.png" in warning[0]  # one line, naming the skipped file
    assert "3 training samples (1 unreadable skipped)" in result.output


def test_all_images_corrupt_is_an_error(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    (folder / "b.jpg").write_bytes(b"this is text, not a jpeg")
    line = error_line(train(folder, tmp_path / "run"))
    assert "broken" in line


def test_unknown_setting_and_wrong_type(make_pairs, tmp_path):
    data = make_pairs(count=2)
    assert "unknown setting 'lamda_l1'" in error_line(
        train(data, tmp_path / "r1", "--set", "lamda_l1=10")
    )
    assert "setting 'batch_size' expects int, got 'two'" in error_line(
        train(data, tmp_path / "r2", "--set", "batch_size=two")
    )


def test_resume_without_checkpoint(make_pairs, tmp_path):
    line = error_line(train(make_pairs(count=2), tmp_path / "run", "--resume"))
    assert "no checkpoint to resume from" in line


def test_incomplete_checkpoint_is_refused_and_left_alone(make_pairs, tmp_path):
    data, out = make_pairs(count=2), tmp_path / "run"
    assert train(data, out, "--set", "steps=1").exit_code == 0
    (out / "checkpoints" / "step_00000001" / "state.json").unlink()
    before = snapshot(out)
    line = error_line(train(data, out, "--set", "steps=2"))
    assert "incomplete checkpoint, missing state.json" in line
    assert snapshot(out) == before


def test_checkpoint_of_another_family_is_refused_and_left_alone(make_pairs, tmp_path):
    data, out = make_pairs(count=2), tmp_path / "run"
    assert train(data, out, "--set", "steps=1").exit_code == 0
    meta_path = out / "checkpoints" / "step_00000001" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["family"] = "cyclegan"
    meta_path.write_text(json.dumps(meta))
    before = snapshot(out)
    line = error_line(train(data, out, "--set", "steps=2"))
    assert "for family 'cyclegan', not 'pix2pix'" in line
    assert snapshot(out) == before


def test_missing_out_and_data(tmp_path):
    assert "--out" in error_line(run("pix2pix", "--data", str(tmp_path)))
    assert "--data" in error_line(run("pix2pix", "--out", str(tmp_path / "new")))
