"""``imagexform prepare``: pairing, splitting, edges and resizing on tiny real folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from imagexform.cli import cli
from imagexform.io.images import read_image


def invoke(*args: object):
    return CliRunner().invoke(cli, ["prepare", *map(str, args)], catch_exceptions=False)


def scene(seed: int, size: tuple[int, int] = (24, 32)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((*size, 3), rng.integers(0, 256, 3), np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), size[0] // 3, (255, 255, 255), -1)
    return image


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_pairs_combines_matching_names_and_lists_the_rest(tmp_path):
    source = tmp_path / "in"
    for name in ("x", "y", "z"):
        write(source / "A" / f"{name}.png", scene(ord(name)))
    for name in ("x", "y", "w"):
        write(source / "B" / f"{name}.jpg", scene(ord(name) + 1, (48, 64)))
    before = snapshot(source)

    result = invoke("pairs", source, tmp_path / "out")

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.png", "y.png"]
    assert "unmatched A/z.png" in result.output and "unmatched B/w.jpg" in result.output
    combined = read_image(tmp_path / "out" / "x.png")
    assert combined.shape == (24, 64, 3)  # B resized to A's size, beside it
    assert np.array_equal(combined[:, :32], read_image(source / "A" / "x.png"))
    assert snapshot(source) == before

    back = invoke("pairs", tmp_path / "out", tmp_path / "back", "--split")
    assert back.exit_code == 0, back.output
    assert np.array_equal(read_image(tmp_path / "back" / "A" / "x.png"), combined[:, :32])
    assert np.array_equal(
        read_image(tmp_path / "back" / "B" / "y.png")[:, :4],
        read_image(tmp_path / "out" / "y.png")[:, 32:36],
    )


def test_edges_are_black_on_white_and_unreadable_files_are_skipped(tmp_path):
    source = tmp_path / "photos"
    write(source / "a.png", scene(1))
    (source / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    result = invoke("edges", source, tmp_path / "edges", "--pair")
    assert result.exit_code == 0, result.output
    assert "skipped broken.jpg" in result.output and "wrote 1 file(s)" in result.output
    drawing = read_image(tmp_path / "edges" / "a.png")
    assert drawing.shape == (24, 64, 3)
    edges = drawing[:, :32, 0]
    assert set(np.unique(edges)) == {0, 255} and (edges == 255).mean() > 0.5
    assert not (tmp_path / "edges" / "broken.png").exists()


def test_split_is_reproducible_and_copies_bytes(tmp_path):
    source = tmp_path / "photos"
    for index in range(8):
        write(source / f"p{index}.png", scene(index))
    first = invoke("split", source, tmp_path / "one", "--ratios", "0.5,0.25,0.25", "--seed", "3")
    assert first.exit_code == 0, first.output
    again = invoke("split", source, tmp_path / "two", "--ratios", "0.5,0.25,0.25", "--seed", "3")
    assert again.exit_code == 0
    counts = {
        name: len(list((tmp_path / "one" / name).iterdir())) for name in ("train", "val", "test")
    }
    assert counts == {"train": 4, "val": 2, "test": 2}
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    other = invoke("split", source, tmp_path / "three", "--ratios", "0.5,0.25,0.25", "--seed", "4")
    assert other.exit_code == 0 and snapshot(tmp_path / "three") != snapshot(tmp_path / "one")
    copied = next((tmp_path / "one" / "train").iterdir())
    assert copied.read_bytes() == (source / copied.name).read_bytes()


@pytest.mark.parametrize(("mode", "shape"), [("crop", (16, 16, 3)), ("fit", (12, 16, 3))])
def test_resize_modes(tmp_path, mode, shape):
    write(tmp_path / "in" / "a.png", scene(0, (48, 64)))
    result = invoke("resize", tmp_path / "in", tmp_path / "out", "--size", 16, "--mode", mode)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out" / "a.png").shape == shape


def test_output_inside_input_and_bad_options_are_refused(tmp_path):
    write(tmp_path / "in" / "a.png", scene(0))
    inside = invoke("resize", tmp_path / "in", tmp_path / "in" / "small", "--size", 8)
    assert inside.exit_code == 2 and "must be outside the input folder" in inside.output
    assert not (tmp_path / "in" / "small").exists()
    missing = invoke("edges", tmp_path / "nowhere", tmp_path / "out")
    assert missing.exit_code == 2 and "nowhere: folder does not exist" in missing.output
    ratios = invoke("split", tmp_path / "in", tmp_path / "out", "--ratios", "a,b")
    assert ratios.exit_code == 2 and "expected numbers" in ratios.output
    no_b = invoke("pairs", tmp_path / "in", tmp_path / "out")
    assert no_b.exit_code == 2 and "expected SOURCE/A and SOURCE/B" in no_b.output
