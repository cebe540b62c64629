"""``imagexform batch`` end to end: real files, real tiny ONNX models, the CLI's exit codes.

The messy folder holds every bad input the batch must survive; one run over it is shared by
the tests that each check one file's fate.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from batch_models import (
    ATTRIBUTE_WEIGHTS,
    attributes_model,
    invert_model,
    model_missing_declared_condition,
    model_without_image_input,
    slow_model,
    strength_model,
)
from cli_process import run_cli
from click.testing import CliRunner
from handmade import (
    cmyk_jpeg,
    exif_block,
    huge_png,
    icc_profile,
    palette_png_with_transparency,
)

from imagexform.cli import ImagexformGroup
from imagexform.commands.batch import batch
from imagexform.io.images import read_image
from imagexform.io.metadata import ImageMetadata, extract_metadata, insert_metadata
from imagexform.runtime.quantize import BF16, int8_recipe

ROOT = Path(__file__).resolve().parents[1]
ODD_NAME = os.fsdecode(b"caf\xe9 -- \xff odd.png")  # not UTF-8: undecodable bytes
GROUP = ImagexformGroup(commands={"batch": batch})


def invoke(*args: object) -> object:
    result = CliRunner().invoke(GROUP, ["batch", *map(str, args)], catch_exceptions=False)
    return result


def scene(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    image[..., 2] = rng.integers(0, 256)
    return image


def write(path: Path, image: np.ndarray, extension: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode(extension or path.suffix, image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def photos(folder: Path, count: int = 3, size: tuple[int, int] = (24, 32)) -> list[Path]:
    return [write(folder / f"p{i}.png", scene(*size, seed=i)) for i in range(count)]


@pytest.fixture(scope="module")
def invert(tmp_path_factory) -> Path:
    return invert_model(tmp_path_factory.mktemp("models") / "invert.onnx")


# --- the messy folder -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def messy(tmp_path_factory, invert):
    """Every bad input of the issue's list, next to good files, in one batch run."""
    root = tmp_path_factory.mktemp("messy")
    inp = root / "in"
    write(inp / "good.png", scene())
    write(inp / "good.jpg", scene())
    (inp / "zero.jpg").write_bytes(b"")
    jpeg = (inp / "good.jpg").read_bytes()
    (inp / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = (inp / "good.png").read_bytes()
    (inp / "truncated.png").write_bytes(png[:-20])
    (inp / "text.jpg").write_text("this is not a picture\n")
    (inp / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 thumbnail cache")
    (inp / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    write(inp / "one.png", np.array([[[10, 20, 30]]], np.uint8))
    (inp / "bomb.png").write_bytes(huge_png(20000, 20000))
    ink = np.zeros((2, 2, 4), np.uint8)
    ink[..., 1:3] = 255  # magenta + yellow = red
    (inp / "cmyk.jpg").write_bytes(cmyk_jpeg(ink))
    palette = [(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0)]
    indices = np.array([[0, 1, 2, 0], [2, 1, 0, 1]])
    (inp / "palette.png").write_bytes(palette_png_with_transparency(indices, palette))
    deep = (np.arange(24 * 32 * 3).reshape(24, 32, 3) * 37 % 65536).astype(np.uint16)
    write(inp / "deep16.png", deep)
    write(inp / "gray.png", scene()[:, :, 0])
    rotated = cv2.imencode(".jpg", cv2.cvtColor(scene(20, 40), cv2.COLOR_RGB2BGR))[1].tobytes()
    metadata = ImageMetadata(exif=exif_block(6), icc=icc_profile())
    (inp / "rotated.jpg").write_bytes(insert_metadata(rotated, metadata))
    write(inp / ODD_NAME, scene())
    write(inp / "日本語 name.png", scene())
    out = root / "out"
    report = root / "report.json"
    result = invoke(inp, out, "--model", invert, "--report", report)
    files = {f["relative"]: f for f in json.loads(report.read_text())["files"]}
    return {
        "in": inp,
        "out": out,
        "result": result,
        "report": json.loads(report.read_text()),
        "files": files,
    }


BAD = {
    "zero.jpg": "0 bytes",
    "truncated.jpg": "truncated",
    "truncated.png": "truncated",
    "text.jpg": "no supported image format",
    "bomb.png": "--max-pixels 400000000",
}


def test_messy_run_exits_1_and_lists_the_bad_files(messy):
    result = messy["result"]
    assert result.exit_code == 1
    assert "failed files:" in result.stderr
    for name, problem in BAD.items():
        line = next(
            line for line in result.stderr.splitlines() if line.startswith("  ") and name in line
        )
        assert problem in line
    totals = messy["report"]["totals"]
    assert totals["failed"] == len(BAD)
    assert totals["ok"] == totals["files"] - len(BAD)
    assert f"{totals['ok']} done, 0 skipped, {len(BAD)} failed" in result.stdout


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_reported_with_its_problem(messy, name):
    entry = messy["files"][name]
    assert entry["status"] == "failed"
    assert BAD[name] in entry["error"]
    assert not (messy["out"] / name).exists()


def test_junk_files_are_skipped_silently(messy):
    for junk in ("Thumbs.db", ".DS_Store"):
        assert junk not in messy["files"]
        assert junk not in messy["result"].output
        assert not (messy["out"] / junk).exists()


def test_bomb_is_refused_from_its_header(messy):
    """How fast: benchmarks/bomb_refusal.py."""
    bomb = messy["files"]["bomb.png"]
    assert bomb["status"] == "failed" and "20000×20000" in bomb["error"]
    assert "--max-pixels 400000000" in bomb["error"]


def test_good_files_are_inverted(messy):
    for name in ("good.png", ODD_NAME, "日本語 name.png"):
        assert np.array_equal(read_image(messy["out"] / name), 255 - scene())
    assert np.abs(read_image(messy["out"] / "good.jpg").astype(int) - (255 - scene())).max() < 40


def test_one_pixel_image(messy):
    assert read_image(messy["out"] / "one.png").tolist() == [[[245, 235, 225]]]
    assert messy["files"]["one.png"]["output_size"] == [1, 1]


def test_cmyk_jpeg_becomes_rgb(messy):
    output = read_image(messy["out"] / "cmyk.jpg")
    assert output.shape == (16, 16, 3)
    assert np.abs(output.astype(int) - (0, 255, 255)).max() < 12  # inverted red is cyan


def test_palette_png_keeps_its_transparency(messy):
    output = read_image(messy["out"] / "palette.png")
    assert output.shape == (2, 4, 4)
    assert output[0, 0].tolist() == [0, 255, 255, 255]
    assert output[..., 3].tolist() == [[255, 128, 0, 255], [0, 128, 255, 128]]


def test_sixteen_bit_stays_sixteen_bit(messy):
    output = read_image(messy["out"] / "deep16.png")
    source = read_image(messy["in"] / "deep16.png")
    assert output.dtype == np.uint16
    assert np.abs(output.astype(int) - (65535 - source.astype(int))).max() <= 1


def test_grayscale_stays_grayscale(messy):
    output = read_image(messy["out"] / "gray.png")
    assert output.shape == (24, 32, 1)
    assert np.array_equal(output[..., 0], 255 - scene()[:, :, 0])


def test_exif_rotated_jpeg_comes_out_upright_with_orientation_1(messy):
    path = messy["out"] / "rotated.jpg"
    assert read_image(path).shape == (40, 20, 3)
    metadata = extract_metadata(path.read_bytes())
    exif = metadata.exif
    assert exif is not None and b"Canon" in exif
    (count,) = struct.unpack_from(">H", exif, 8)
    entries = [struct.unpack_from(">HHIH", exif, 10 + 12 * i) for i in range(count)]
    assert (0x0112, 3, 1, 1) in entries
    assert metadata.icc == icc_profile()
    assert messy["files"]["rotated.jpg"]["output_size"] == [20, 40]


def test_report_describes_every_file(messy):
    report = messy["report"]
    assert report["model"]["family"] == "invert"
    assert report["model"]["provider"] == "CPUExecutionProvider"
    assert set(report["timing"]) >= {"wall_seconds", "model_seconds", "model_wait_seconds"}
    good = messy["files"]["good.png"]
    assert good["status"] == "ok" and good["error"] is None
    assert good["bytes_in"] == (messy["in"] / "good.png").stat().st_size
    assert good["bytes_out"] == (messy["out"] / "good.png").stat().st_size
    assert good["input_size"] == good["output_size"] == [32, 24]
    assert good["seconds"] > 0
    odd = next(f for f in messy["files"].values() if f["relative"].startswith("caf"))
    assert odd["relative"] == "caf\\xe9 -- \\xff odd.png"
    assert odd["status"] == "ok"


def test_no_partial_or_temp_files_are_left(messy):
    names = [p.name for p in messy["out"].iterdir()]
    assert not [n for n in names if n.startswith(".")]
    assert len(names) == messy["report"]["totals"]["ok"]


# --- limits, models, conditions -------------------------------------------------------------


def test_max_pixels_override(tmp_path, invert):
    photos(tmp_path / "in", count=1, size=(48, 64))
    result = invoke(tmp_path / "in", tmp_path / "a", "--model", invert, "--max-pixels", 3000)
    assert result.exit_code == 1
    assert "--max-pixels 3072" in result.stderr
    result = invoke(tmp_path / "in", tmp_path / "b", "--model", invert, "--max-pixels", 3072)
    assert result.exit_code == 0
    assert (tmp_path / "b" / "p0.png").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"this is not an onnx file"), "not an ONNX model"),
        (model_without_image_input, "no input named 'image'"),
        (model_missing_declared_condition, "does not have"),
    ],
    ids=["not-onnx", "no-image-input", "missing-condition-input"],
)
def test_unusable_model_is_a_usage_error_before_any_output(tmp_path, make, message):
    photos(tmp_path / "in", count=1)
    model = tmp_path / "model.onnx"
    make(model)
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", model)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_model_file(tmp_path):
    photos(tmp_path / "in", count=1)
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", tmp_path / "absent.onnx")
    assert result.exit_code == 2
    assert "model file not found" in result.stderr


def expected_strength(image: np.ndarray, strength: float) -> np.ndarray:
    x = image.astype(np.float64) / 255 * 2 - 1
    return np.rint(((-x * strength) + 1) / 2 * 255)


def test_strength_condition(tmp_path):
    model = strength_model(tmp_path / "strength.onnx")
    photos(tmp_path / "in", count=1)
    result = invoke(tmp_path / "in", tmp_path / "half", "--model", model, "--set", "strength=0.5")
    assert result.exit_code == 0
    output = read_image(tmp_path / "half" / "p0.png")
    assert np.abs(output - expected_strength(scene(seed=0), 0.5)).max() <= 1
    assert invoke(tmp_path / "in", tmp_path / "full", "--model", model).exit_code == 0
    assert np.array_equal(read_image(tmp_path / "full" / "p0.png"), 255 - scene(seed=0))


def test_strength_and_preserve_color_adjust_any_model(tmp_path, invert):
    photos(tmp_path / "in", count=1)
    source = scene(seed=0).astype(np.float64)
    assert (
        invoke(tmp_path / "in", tmp_path / "mix", "--model", invert, "--strength", 0.25).exit_code
        == 0
    )
    mixed = read_image(tmp_path / "mix" / "p0.png").astype(np.float64)
    assert np.abs(mixed - (0.25 * (255 - source) + 0.75 * source)).max() <= 1
    flags = ("--model", invert, "--preserve-color")
    assert invoke(tmp_path / "in", tmp_path / "keep", *flags).exit_code == 0
    kept = cv2.cvtColor(read_image(tmp_path / "keep" / "p0.png"), cv2.COLOR_RGB2YCrCb)
    original = cv2.cvtColor(scene(seed=0), cv2.COLOR_RGB2YCrCb).astype(np.int16)
    inverted = cv2.cvtColor(255 - scene(seed=0), cv2.COLOR_RGB2YCrCb).astype(np.int16)
    # Luminance from the model's output, chroma from the input (up to clipping at gamut edges).
    assert np.median(np.abs(kept[..., 0] - inverted[..., 0])) <= 1
    assert np.median(np.abs(kept[..., 1:] - original[..., 1:])) <= 1


def test_outscale_sets_the_output_size_and_the_name_field(tmp_path, invert):
    photos(tmp_path / "in", count=1)
    flags = ("--model", invert, "--outscale", 1.5, "--name", "{stem}-x{scale}{ext}")
    assert invoke(tmp_path / "in", tmp_path / "out", *flags).exit_code == 0
    assert read_image(tmp_path / "out" / "p0-x1.5.png").shape == (36, 48, 3)
    refused = invoke(tmp_path / "in", tmp_path / "bad", "--model", invert, "--outscale", 0)
    assert refused.exit_code == 2 and "--outscale" in refused.output


def test_attribute_label_flags(tmp_path):
    model = attributes_model(tmp_path / "faces.onnx")
    photos(tmp_path / "in", count=1)

    def level(out: str, *flags: object) -> int:
        result = invoke(tmp_path / "in", tmp_path / out, "--model", model, *flags)
        assert result.exit_code == 0, result.output
        image = read_image(tmp_path / out / "p0.png")
        assert (image == image[0, 0, 0]).all()
        return int(image[0, 0, 0])

    def expected(*attributes: float) -> int:
        offset = float(np.array(attributes) @ ATTRIBUTE_WEIGHTS[:, 0])
        return round((offset + 1) / 2 * 255)

    assert level("default") == expected(1, 0, 0)
    assert level("blond", "--set", "Blond_Hair=1") == expected(0, 1, 0)  # black cleared
    assert level("both", "--set", "Blond_Hair=1", "--set", "Black_Hair=1") == expected(1, 1, 0)
    assert level("vector", "--set", "attributes=0,0,1") == expected(0, 0, 1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "Blond_Hair=2"], "out of range"),
        (
            ["--set", "Red_Hair=1"],
            "unknown condition; this model takes: attributes (labels: Black_Hair, Blond_Hair, ",
        ),
        (["--strength", "1.5"], "1.5 is not in the range 0<=x<=1"),
        (["--set", "attributes=1,0"], "expected 3 value(s)"),
    ],
)
def test_bad_condition_flags_are_usage_errors(tmp_path, flags, message):
    model = attributes_model(tmp_path / "faces.onnx")
    photos(tmp_path / "in", count=1)
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", model, *flags)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


# --- where outputs go -----------------------------------------------------------------------


def test_output_equal_to_input_is_refused_without_overwrite_inputs(tmp_path, invert):
    sources = photos(tmp_path / "in")
    before = [p.read_bytes() for p in sources]
    result = invoke(tmp_path / "in", tmp_path / "in", "--model", invert)
    assert result.exit_code == 2
    assert "--overwrite-inputs" in result.stderr
    assert [p.read_bytes() for p in sources] == before
    result = invoke(tmp_path / "in", tmp_path / "in", "--model", invert, "--overwrite-inputs")
    assert result.exit_code == 0
    assert np.array_equal(read_image(sources[0]), 255 - scene(seed=0))
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_output_inside_input_is_refused_only_when_recursion_would_read_it(tmp_path, invert):
    photos(tmp_path / "in")
    inside = tmp_path / "in" / "out"
    result = invoke(tmp_path / "in", inside, "--model", invert, "--recursive")
    assert result.exit_code == 2
    assert "inside the input folder" in result.stderr
    assert invoke(tmp_path / "in", inside, "--model", invert).exit_code == 0
    assert sorted(p.name for p in inside.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    # Allowed on request, and the outputs are not fed back in.
    result = invoke(
        tmp_path / "in", inside, "--model", invert, "-r", "--overwrite-inputs", "--overwrite"
    )
    assert result.exit_code == 0
    assert not (inside / "out").exists()


def test_single_file_and_glob_inputs(tmp_path, invert):
    sources = photos(tmp_path / "in" / "sub")
    assert invoke(sources[1], tmp_path / "one", "--model", invert).exit_code == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["p1.png"]
    assert (
        invoke(tmp_path / "in" / "**" / "p[02].png", tmp_path / "g", "--model", invert).exit_code
        == 0
    )
    assert sorted(str(p.relative_to(tmp_path / "g")) for p in (tmp_path / "g").rglob("*.png")) == [
        "sub/p0.png",
        "sub/p2.png",
    ]


def test_recursive_mirror_flatten_and_name_template(tmp_path, invert):
    write(tmp_path / "in" / "a" / "x.png", scene(seed=1))
    write(tmp_path / "in" / "b" / "x.png", scene(seed=2))
    assert invoke(tmp_path / "in", tmp_path / "m", "--model", invert, "-r").exit_code == 0
    assert (tmp_path / "m" / "a" / "x.png").exists() and (tmp_path / "m" / "b" / "x.png").exists()
    flags = ["--model", invert, "-r", "--flatten", "--name", "{stem}_{model}{ext}"]
    assert invoke(tmp_path / "in", tmp_path / "f", *flags).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert len(names) == 2 and all(n.startswith("x_invert_") for n in names)


def test_output_formats(tmp_path, invert):
    rgba = np.dstack([scene(), np.full((24, 32), 255, np.uint8)])
    rgba[:, :16, 3] = 0
    write(tmp_path / "in" / "alpha.png", rgba)
    deep = scene().astype(np.uint16) * 257
    write(tmp_path / "in" / "deep.png", deep)
    assert (
        invoke(tmp_path / "in", tmp_path / "jpg", "--model", invert, "--format", "jpg").exit_code
        == 0
    )
    alpha = read_image(tmp_path / "jpg" / "alpha.jpg")
    assert alpha.shape == (24, 32, 3)
    assert alpha[:, :12].min() > 240  # transparent half composited on white
    assert read_image(tmp_path / "jpg" / "deep.jpg").dtype == np.uint8
    for fmt, ext in (("webp", ".webp"), ("tiff", ".tif"), ("png", ".png")):
        result = invoke(tmp_path / "in", tmp_path / fmt, "--model", invert, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert sorted(p.suffix for p in (tmp_path / fmt).iterdir()) == [ext, ext]
    assert read_image(tmp_path / "tiff" / "deep.tif").dtype == np.uint16
    assert read_image(tmp_path / "webp" / "alpha.webp").shape[2] == 4


def read_only_folder(path: Path) -> None:
    """Make ``path`` unwritable even for root (chmod does not stop root; the immutable
    attribute does), or skip when this machine offers no way."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a folder read-only")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")


def writable_again(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        path.chmod(0o755)


def test_read_only_output_folder_is_a_usage_error_before_processing(tmp_path, invert):
    photos(tmp_path / "in")
    out = tmp_path / "locked"
    read_only_folder(out)
    try:
        result = invoke(tmp_path / "in", out, "--model", invert)
    finally:
        writable_again(out)
    assert result.exit_code == 2
    assert "cannot write to the output folder" in result.stderr
    assert "p0.png" not in result.output
    assert list(out.iterdir()) == []


def test_output_under_a_file_is_a_usage_error(tmp_path, invert):
    photos(tmp_path / "in")
    (tmp_path / "file").write_text("x")
    result = invoke(tmp_path / "in", tmp_path / "file" / "out", "--model", invert)
    assert result.exit_code == 2
    assert "cannot create the output folder" in result.stderr


# --- reruns, kills, shards, dry runs --------------------------------------------------------


def test_rerun_skips_existing_and_clears_stale_temp_files(tmp_path, invert):
    photos(tmp_path / "in")
    out = tmp_path / "out"
    assert invoke(tmp_path / "in", out, "--model", invert).exit_code == 0
    (out / "p1.png").unlink()
    stale = out / ".p1.png.0123abcd.tmp"
    stale.write_bytes(b"half an image from a killed run")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = out / ".p2.png.89abcdef.tmp"
    fresh.write_bytes(b"a live writer's file (another shard)")
    report = tmp_path / "r.json"
    result = invoke(tmp_path / "in", out, "--model", invert, "--report", report)
    assert result.exit_code == 0
    statuses = {f["relative"]: f["status"] for f in json.loads(report.read_text())["files"]}
    assert statuses == {"p0.png": "skipped", "p1.png": "ok", "p2.png": "skipped"}
    assert "skipping 2 file(s)" in result.stderr
    assert not stale.exists()
    assert fresh.exists()
    assert np.array_equal(read_image(out / "p1.png"), 255 - scene(seed=1))
    result = invoke(tmp_path / "in", out, "--model", invert, "--overwrite", "--report", report)
    assert json.loads(report.read_text())["totals"]["ok"] == 3


def test_killed_run_leaves_no_partial_files_and_a_rerun_completes(tmp_path):
    """SIGKILL in the middle of a run (no cleanup code runs), then the same command again."""
    model = slow_model(tmp_path / "slow.onnx")
    count = 40
    for i in range(count):
        write(tmp_path / "in" / f"{i:02}.png", scene(160, 200, seed=i))
    out = tmp_path / "out"
    process = run_cli("batch", tmp_path / "in", out, "--model", model, "--jobs", "1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert 0 < len(finished) < count
    for path in finished:
        assert read_image(path).shape == (160, 200, 3)  # complete images only

    report = tmp_path / "report.json"
    process = run_cli("batch", tmp_path / "in", out, "--model", model, "--report", report)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "TORCH_LOADED=False" in stderr
    totals = json.loads(report.read_text())["totals"]
    assert totals["skipped"] == len(finished)
    assert totals["ok"] == count - len(finished)
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == count


def test_shards_split_the_work_between_runs(tmp_path, invert):
    photos(tmp_path / "in", count=12)
    seen: list[str] = []
    for k in (1, 2, 3):
        report = tmp_path / f"shard{k}.json"
        flags = ["--model", invert, "--shard", f"{k}/3", "--report", report]
        result = invoke(tmp_path / "in", tmp_path / "out", *flags)
        assert result.exit_code == 0
        files = json.loads(report.read_text())["files"]
        assert all(f["status"] == "ok" for f in files)
        seen += [f["relative"] for f in files]
    assert sorted(seen) == sorted(f"p{i}.png" for i in range(12))
    assert len(list((tmp_path / "out").iterdir())) == 12


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, invert):
    photos(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    write(out / "p0.png", scene())
    result = invoke(
        tmp_path / "in", out, "--model", invert, "--dry-run", "--report", tmp_path / "r.json"
    )
    assert result.exit_code == 0
    assert "would write 2, skip 1 existing" in result.stdout
    assert f"skip  {tmp_path / 'in' / 'p0.png'} -> {out / 'p0.png'}" in result.stdout
    assert f"write {tmp_path / 'in' / 'p1.png'} -> {out / 'p1.png'}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["p0.png"]
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shard", "4/3"], "--shard"),
        (["--name", "{stem}_{colour}{ext}"], "unknown field {colour}"),
        (["--quality", "0"], "--quality"),
        (["--format", "gif"], "--format"),
        (["--value-range", "1,0"], "LOW must be below HIGH"),
    ],
)
def test_usage_errors_exit_2(tmp_path, invert, flags, message):
    photos(tmp_path / "in", count=1)
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", invert, *flags)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_empty_input_folder_is_a_usage_error(tmp_path, invert):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    write(tmp_path / "in" / "sub" / "x.png", scene())
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", invert)
    assert result.exit_code == 2
    assert "no image files found (add --recursive" in result.stderr


def test_help_and_import_stay_light():
    code = (
        "import sys; from imagexform.commands.batch import batch; "
        "print(sorted(m for m in ('torch', 'cv2', 'numpy', 'onnxruntime', 'rich') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    result = CliRunner().invoke(GROUP, ["batch", "--help"])
    assert result.exit_code == 0
    assert "--max-pixels" in result.output and "--overwrite-inputs" in result.output


def test_fast_precision_runs_and_reports_its_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))
    model = slow_model(tmp_path / "slow.onnx")
    photos(tmp_path / "in", count=2, size=(64, 96))
    report = tmp_path / "r.json"
    flags = ["--model", model, "--precision", "fast", "--report", report]
    result = invoke(tmp_path / "in", tmp_path / "out", *flags)
    assert result.exit_code == 0, result.output
    summary = json.loads(report.read_text())
    assert summary["totals"]["ok"] == 2
    precision = summary["model"]["precision"]
    assert precision in ("fp32", BF16) or int8_recipe(precision)
    measured = summary["model"]["precision_measured"]
    assert (measured is None) == (precision == "fp32")
    if measured is not None:
        assert measured["psnr_db"] >= 40 and f"{measured['speedup']:g}× fp32" in result.output
    assert f", {precision}" in result.output.splitlines()[-1]
    assert list((tmp_path / "cache").rglob("*.json"))  # the verdict is cached
    from imagexform.commands.models import models_group

    info = CliRunner().invoke(models_group, ["info", str(model)])
    assert f"this machine: precision fast runs {precision}" in info.output
    again = invoke(tmp_path / "in", tmp_path / "again", "--model", model, "--report", report)
    assert again.exit_code == 0  # --precision auto: what fast chose before
    assert json.loads(report.read_text())["model"]["precision"] == precision


def test_interrupted_run_exits_130_and_reports_what_was_done(tmp_path, invert, monkeypatch):
    import imagexform.runtime

    real_load = imagexform.runtime.load_model

    class StopsAfterTwo:
        def __init__(self, model):
            self.model = model
            self.calls = 0

        def __getattr__(self, name):
            return getattr(self.model, name)

        def transform(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.model.transform(*args, **kwargs)

    monkeypatch.setattr(
        imagexform.runtime, "load_model", lambda *a, **k: StopsAfterTwo(real_load(*a, **k))
    )
    photos(tmp_path / "in", count=6)
    report = tmp_path / "r.json"
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", invert, "--report", report)
    assert result.exit_code == 130
    assert "interrupted after 2 of 6 file(s); run the same command again" in result.stderr
    summary = json.loads(report.read_text())
    assert summary["interrupted"] is True
    assert summary["totals"]["ok"] == 2
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_unwritable_report_location_is_a_usage_error_before_processing(tmp_path, invert):
    photos(tmp_path / "in")
    (tmp_path / "file").write_text("x")
    report = tmp_path / "file" / "report.json"
    result = invoke(tmp_path / "in", tmp_path / "out", "--model", invert, "--report", report)
    assert result.exit_code == 2
    assert "cannot create the report's folder" in result.stderr
    assert not list((tmp_path / "out").iterdir())


def test_cancel_stops_within_one_tile_of_a_large_photo(tmp_path):
    import threading

    from imagexform.batch.run import BatchObserver, BatchOptions, run_batch

    class SetOnSecondLook(threading.Event):
        """Set by the time anyone looks a second time: after the first tile of the photo."""

        looks = 0

        def is_set(self) -> bool:
            self.looks += 1
            if self.looks == 2:
                self.set()
            return super().is_set()

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "large.png"), np.full((256, 256, 3), 90, np.uint8))
    cancel = SetOnSecondLook()
    options = BatchOptions(
        str(photos),
        tmp_path / "out",
        invert_model(tmp_path / "invert.onnx"),
        jobs=1,
        tile=64,
        overlap=8,
        progress=False,
    )
    assert run_batch(options, BatchObserver(cancel=cancel)) == 130
    # Looked at before the photo and after its first tile: 24 of its 25 tiles never ran.
    assert cancel.looks == 2 and not list((tmp_path / "out").glob("*.png"))


def test_cancel_stops_like_ctrl_c_and_every_file_is_reported(tmp_path):
    import threading

    from imagexform.batch.report import FileResult
    from imagexform.batch.run import BatchObserver, BatchOptions, run_batch

    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(8):
        cv2.imwrite(str(photos / f"{index}.png"), np.full((48, 48, 3), index * 20, np.uint8))
    (tmp_path / "out").mkdir()
    cv2.imwrite(str(tmp_path / "out" / "0.png"), np.zeros((4, 4, 3), np.uint8))
    cancel = threading.Event()
    told: list[FileResult] = []

    def on_result(result: FileResult) -> None:
        told.append(result)
        if result.status == "ok":
            cancel.set()

    options = BatchOptions(
        str(photos),
        tmp_path / "out",
        invert_model(tmp_path / "invert.onnx"),
        jobs=1,
        report=tmp_path / "report.json",
        progress=False,
    )
    assert run_batch(options, BatchObserver(on_result=on_result, cancel=cancel)) == 130
    report = json.loads((tmp_path / "report.json").read_text())
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert told[0].status == "skipped" and 1 <= sum(r.status == "ok" for r in told) < 7
    assert report["interrupted"] is True and len(written) == 1 + sum(r.status == "ok" for r in told)
