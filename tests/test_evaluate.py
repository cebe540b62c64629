"""``imagexform eval`` on real tiny ONNX upscalers and real photos: the bicubic baseline, the
mean row, JSON, and the bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result

from imagexform.cli import ImagexformGroup
from imagexform.commands.evaluate import eval_command
from imagexform.errors import UserError
from imagexform.evaluate import METRICS, evaluate_images, find_images
from imagexform.family import IOSpec
from imagexform.imaging import imresize
from imagexform.modelinfo import IMAGE_INPUT, OUTPUT, ModelInfo
from imagexform.runtime import RuntimeModel

pytest.importorskip("onnx")
import onnx_models as om
from onnx import helper, numpy_helper

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "photos"


def sr_info(scale: int) -> ModelInfo:
    return om.model_info(IOSpec(value_range=(0.0, 1.0), scale=scale))


def bicubic_onnx(path: Path, scale: int = 2) -> Path:
    """A real ONNX upscaler, one cubic Resize node with MATLAB's kernel (a = -0.5) at the same
    sample positions: MATLAB's bicubic except at the border, where ONNX clamps instead of
    mirroring."""
    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales")
    node = helper.make_node(
        "Resize",
        [IMAGE_INPUT, "", "scales"],
        [OUTPUT],
        mode="cubic",
        cubic_coeff_a=-0.5,
        coordinate_transformation_mode="half_pixel",
    )
    return om.save(path, [node], info=sr_info(scale), initializers=[scales])


def photos(folder: Path, count: int = 3, size: int = 64) -> Path:
    """Crops of the bundled sample photos (real detail, and sizes not all multiples of 4)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(ASSETS.glob("*.jpg"))[:count]
    for index, source in enumerate(sources):
        image = cv2.imread(str(source))
        top, left = image.shape[0] // 3, image.shape[1] // 3
        crop = image[top : top + size + index, left : left + size + 2 * index]
        assert cv2.imwrite(str(folder / f"{source.stem}.png"), crop)
    return folder


def run(*arguments: str | Path) -> Result:
    """The command as the CLI runs it, with UserErrors turned into one line and exit code 2."""
    group = ImagexformGroup(name="imagexform", commands={"eval": eval_command})
    return CliRunner().invoke(group, ["eval", *map(str, arguments)], catch_exceptions=False)


@pytest.fixture
def cubic_model(tmp_path: Path) -> Path:
    return bicubic_onnx(tmp_path / "cubic.onnx")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return photos(tmp_path / "hr")


# The scoring itself, without a model file


def test_an_upscaler_that_is_bicubic_scores_exactly_the_baseline(tmp_path: Path) -> None:
    paths = find_images(photos(tmp_path / "hr"))
    evaluation = evaluate_images(paths, lambda lr: imresize(lr, 3), 3, data=tmp_path)
    assert len(evaluation.images) == 3
    model, bicubic = evaluation.mean()
    assert model == bicubic
    assert 20 < bicubic["psnr_y"] < 45 and 0.5 < bicubic["ssim_y"] < 1
    assert bicubic["psnr_y"] > bicubic["psnr_rgb"]  # Y is the easier, and the usual, number
    assert all(image.width % 3 == 0 and image.height % 3 == 0 for image in evaluation.images)


def test_pixel_repetition_scores_below_bicubic(tmp_path: Path) -> None:
    paths = find_images(photos(tmp_path / "hr"))

    def repeat(lr: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1)

    model, bicubic = evaluate_images(paths, repeat, 2, data=tmp_path).mean()
    assert model["psnr_y"] < bicubic["psnr_y"] - 0.5
    assert model["ssim_y"] < bicubic["ssim_y"]


def test_a_wrong_output_size_is_a_user_error(tmp_path: Path) -> None:
    paths = find_images(photos(tmp_path / "hr", count=1))
    with pytest.raises(UserError, match=r"not the 64×64×3 of ×2; is --scale right\?"):
        evaluate_images(paths, lambda lr: imresize(lr, 3), 2, data=tmp_path)


# The command


def test_table_has_model_bicubic_gain_and_mean(cubic_model: Path, data: Path) -> None:
    result = run(cubic_model, "--data", data)
    assert result.exit_code == 0, result.output
    table = result.stdout
    assert "cubic.onnx ×2 vs bicubic" in table
    for heading in ("PSNR-Y", "SSIM-Y", "bicubic", "gain", "PSNR", "SSIM"):
        assert heading in table
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        assert name in table
    assert "mean of 3" in table
    assert "2 px cropped at each border" in table


def test_a_model_that_is_bicubic_scores_about_the_baseline(cubic_model: Path, data: Path) -> None:
    result = run(cubic_model, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    mean = json.loads(result.stdout)["mean"]
    # Same kernel and sample positions; only the border handling differs (ONNX clamps,
    # MATLAB mirrors), and the border is mostly cropped away.
    assert abs(mean["gain"]["psnr_y"]) < 0.3
    assert abs(mean["gain"]["ssim_y"]) < 0.005
    assert mean["model"]["psnr_y"] > 25


def test_nearest_model_shows_a_negative_gain(tmp_path: Path, data: Path) -> None:
    model = om.upscaler(tmp_path / "nearest.onnx", 2)
    result = run(model, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mean"]["gain"]["psnr_y"] < -0.5


def test_json_structure(cubic_model: Path, data: Path) -> None:
    result = run(cubic_model, "--data", data, "--json")
    report = json.loads(result.stdout)
    assert report["model"] == str(cubic_model)
    assert report["data"] == str(data)
    assert report["scale"] == 2 and report["crop_border"] == 2
    assert report["skipped"] == []
    assert [image["name"] for image in report["images"]] == [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
    ]
    first = report["images"][1]
    assert (first["width"], first["height"]) == (66, 64)  # 66×65 cut to a multiple of 2
    for image in report["images"]:
        assert set(image["model"]) == set(image["bicubic"]) == set(image["gain"]) == set(METRICS)
        assert image["gain"]["psnr_y"] == pytest.approx(
            image["model"]["psnr_y"] - image["bicubic"]["psnr_y"]
        )
    for side in ("model", "bicubic"):
        for metric in METRICS:
            values = [image[side][metric] for image in report["images"]]
            assert report["mean"][side][metric] == pytest.approx(np.mean(values))


def test_limit_and_tiles(cubic_model: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = json.loads(run(cubic_model, "--data", data, "--json", "--limit", "1").stdout)
    assert len(whole["images"]) == 1

    tile_sizes = []
    original = RuntimeModel.transform

    def spy(self: RuntimeModel, image: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        tile_sizes.append(kwargs.get("tile_size"))
        return original(self, image, *args, **kwargs)

    monkeypatch.setattr(RuntimeModel, "transform", spy)
    tiled = json.loads(
        run(cubic_model, "--data", data, "--json", "--limit", "1", "--tile", "24").stdout
    )
    assert tile_sizes == [24]  # the 32×32 LR input really goes in tiles
    # The overlap covers the cubic kernel's reach, so tiles change nothing measurable.
    assert tiled["mean"]["model"]["psnr_y"] == pytest.approx(
        whole["mean"]["model"]["psnr_y"], abs=0.01
    )


def test_scale_one_model_needs_scale(tmp_path: Path, data: Path) -> None:
    model = om.upscaler(tmp_path / "plain.onnx", 2, info=sr_info(1))
    result = run(model, "--data", data)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "plain.onnx: not a super-resolution model (its metadata says scale 1)" in result.output
    assert "give --scale N" in result.output
    trusted = run(model, "--data", data, "--scale", "2", "--json")
    assert trusted.exit_code == 0, trusted.output
    assert json.loads(trusted.stdout)["scale"] == 2


def test_scale_that_contradicts_the_model(cubic_model: Path, data: Path) -> None:
    result = run(cubic_model, "--data", data, "--scale", "4")
    assert result.exit_code == 2
    assert "cubic.onnx: the model upscales ×2, not ×4 (--scale)" in result.output
    assert run(cubic_model, "--data", data, "--scale", "2", "--json").exit_code == 0


def test_missing_and_empty_data_folders(cubic_model: Path, tmp_path: Path) -> None:
    result = run(cubic_model, "--data", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "nowhere: data folder does not exist" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here")
    result = run(cubic_model, "--data", empty)
    assert result.exit_code == 2
    assert "empty: holds no images to evaluate" in result.output


def test_missing_model_file(tmp_path: Path, data: Path) -> None:
    result = run(tmp_path / "absent.onnx", "--data", data)
    assert result.exit_code == 2
    assert "absent.onnx: file not found" in result.output


def test_unreadable_and_too_small_photos_are_skipped(cubic_model: Path, data: Path) -> None:
    (data / "broken.png").write_bytes(b"not a png")
    cv2.imwrite(str(data / "tiny.png"), np.full((12, 40, 3), 128, np.uint8))
    result = run(cubic_model, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "broken.png: not a decodable image" in result.stderr
    assert "tiny.png: 40×12 is too small to measure at ×2 (needs 15×15)" in result.stderr
    report = json.loads(result.stdout)
    assert len(report["images"]) == 3
    assert sorted(Path(s["path"]).name for s in report["skipped"]) == ["broken.png", "tiny.png"]


def test_nothing_measurable_is_an_error(cubic_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((10, 10, 3), np.uint8))
    result = run(cubic_model, "--data", folder)
    assert result.exit_code == 2
    assert "none of the 1 images can be evaluated (first: a.png: 10×10 is too small" in (
        result.output
    )


def test_gray_and_sixteen_bit_photos_are_measured(cubic_model: Path, tmp_path: Path) -> None:
    folder = photos(tmp_path / "hr", count=1)
    rgb = cv2.imread(str(next(folder.iterdir())))
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "deep.png"), rgb.astype(np.uint16) * 257)
    result = run(cubic_model, "--data", folder, "--json")
    assert result.exit_code == 0, result.output
    by_name = {image["name"]: image for image in json.loads(result.stdout)["images"]}
    assert set(by_name) == {"astronaut.png", "gray.png", "deep.png"}
    # Measured on the same 0..255 scale: 16-bit only loses the 8-bit rounding of LR and output.
    deep, plain = by_name["deep.png"]["bicubic"], by_name["astronaut.png"]["bicubic"]
    assert plain["psnr_y"] < deep["psnr_y"] < plain["psnr_y"] + 1


def test_evaluation_never_imports_torch(cubic_model: Path, data: Path) -> None:
    # The inference side has no torch: importing the command must not even load the
    # runtime, and a whole evaluation must not load torch.
    code = (
        "import sys, json, imagexform.commands.evaluate\n"
        "on_import = sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules)\n"
        "from imagexform.evaluate import evaluate_model\n"
        "evaluate_model(sys.argv[1], sys.argv[2], limit=1)\n"
        "print(json.dumps([on_import, 'torch' in sys.modules]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(cubic_model), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == [[], False]


def test_the_help_names_the_options() -> None:
    result = CliRunner().invoke(eval_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--data", "--scale", "--json", "--tile", "--device", "--limit"):
        assert option in result.output
    assert isinstance(eval_command, click.Command)
