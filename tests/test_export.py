"""ONNX export: tiny pix2pix runs and reference checkpoints become one verified, self-describing
file that onnxruntime runs at any size; every failure is one clear line and leaves no file."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner, Result
from conformance import fixture_dir, fixture_entry, load_manifest, sha256
from conftest import draw_scene, sketch
from torch import Tensor, nn

import imagexform
from imagexform.cli import ImagexformGroup, cli
from imagexform.commands.export import export_command, import_command
from imagexform.commands.models import models_group
from imagexform.config import path_setting
from imagexform.export import ExportError, export_checkpoint, export_onnx
from imagexform.export.onnx_export import FP16_TOLERANCE, MAX_IR_VERSION
from imagexform.export.shareable import is_local_path, shareable_config, shareable_provenance
from imagexform.family import ConditionSpec, IOSpec, TrainConfig
from imagexform.modelinfo import METADATA_KEY, ModelInfo
from imagexform.nn import ResnetGenerator
from imagexform.runtime.modelfile import read_model_info
from imagexform.train.restore import load_trained

TINY = ["ngf=8", "ndf=8", "image_size=32", "load_size=36", "batch_size=2", "steps=2"]
TINY += ["ema_decay=0.5", "sample_every=1000", "val_every=1000", "log_every=1000"]
# Sizes the parity check does not use: other heights and widths, non-square, batch 2.
SHIPPED = "assets/models/imagexform-sr-x4.onnx"
FRESH_SIZES = {32: [(1, 96, 32), (2, 64, 128)], 4: [(1, 44, 20), (2, 24, 60)]}


def commands() -> ImagexformGroup:
    """The real CLI group class (one-line errors, exit 2) holding the commands under test."""
    group = ImagexformGroup("imagexform")
    for command in (export_command, import_command, models_group):
        group.add_command(command)
    return group


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(commands(), [str(arg) for arg in args])


def run_onnx(path: Path, image: Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"image": image.numpy()})[0]


def torch_output(net: nn.Module, image: Tensor) -> np.ndarray:
    with torch.inference_mode():
        return net(image).numpy()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two-step pix2pix runs with EMA, one per generator kind: a batch-norm U-Net whose skip
    concatenations need a size multiple of 32, and an instance-norm ResNet (CycleGAN's
    generator) whose reflection-padded blocks need 4."""
    root = tmp_path_factory.mktemp("export")
    data = root / "pairs"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        scene = draw_scene(rng, 32)
        cv2.imwrite(str(data / f"{index}.png"), np.hstack([sketch(scene), scene]))
    found = {}
    for net_g, norm in (("unet_32", "batch"), ("resnet_6blocks", "instance")):
        run = root / net_g
        values = [f"netG={net_g}", f"norm={norm}", *TINY]
        settings = [item for value in values for item in ("--set", value)]
        args = ["train", "pix2pix", "--data", str(data), "--out", str(run), "--device", "cpu"]
        result = CliRunner().invoke(cli, [*args, *settings], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        found[net_g] = run
    return found


@pytest.fixture(scope="module")
def unet_onnx(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unet") / "unet.onnx"
    result = invoke("export", runs["unet_32"], "-o", path)
    assert result.exit_code == 0, result.output
    return path


def latest_checkpoint(run: Path) -> Path:
    return run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()


def assert_exported_run(run: Path, path: Path, multiple: int) -> None:
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no .data, no temp

    model = onnx.load(str(path))
    assert model.ir_version <= MAX_IR_VERSION
    assert {op.domain: op.version for op in model.opset_import}[""] >= 18
    (image,), (output,) = model.graph.input, model.graph.output
    assert (image.name, output.name) == ("image", "output")
    dims = image.type.tensor_type.shape.dim
    assert dims[1].dim_value == 3
    assert all(dims[axis].dim_param for axis in (0, 2, 3)), dims  # named, not fixed

    assert model.producer_name == "imagexform"
    info = ModelInfo.from_json(dict((p.key, p.value) for p in model.metadata_props)[METADATA_KEY])
    assert info.title in model.doc_string
    trained = load_trained(run)
    assert info.family == "pix2pix" and info.plugin == "pix2pix" and info.precision == "fp32"
    assert info.io == trained.family.io_spec(trained.config)
    assert info.io.size_multiple == multiple
    assert info.config == trained.config.to_dict()
    hints = trained.family.tile_hints(trained.config)
    assert (info.tile.tile_size, info.tile.overlap) == (hints.tile_size, hints.overlap)
    assert 0 < info.tile.receptive_field < 64  # measured on the exported network
    checkpoint = latest_checkpoint(run)
    provenance = info.provenance
    assert provenance["step"] == 2 and provenance["checkpoint"] == checkpoint.name
    assert provenance["run"] == run.name
    metadata = dict((p.key, p.value) for p in model.metadata_props)[METADATA_KEY]
    assert str(run.parent.resolve()) not in metadata and str(run.parent) not in metadata
    assert provenance["weights_sha256"] == sha256(checkpoint / "weights.safetensors")
    assert provenance["ema"] is True
    assert provenance["ema_sha256"] == sha256(checkpoint / "ema.safetensors")
    assert provenance["torch_version"] == torch.__version__ and "exported_at" in provenance
    assert "(step 2)" in info.title

    generator = trained.nets["G"]
    for batch, height, width in FRESH_SIZES[multiple]:
        image = torch.rand(batch, 3, height, width) * 2 - 1
        actual, expected = run_onnx(path, image), torch_output(generator, image)
        assert actual.shape == (batch, 3, height, width)
        assert np.abs(actual - expected).max() <= 1e-4


def test_unet_run_exports_one_verified_self_describing_file(runs, unet_onnx):
    assert_exported_run(runs["unet_32"], unet_onnx, multiple=32)


def test_resnet_run_exports_through_the_command(runs, tmp_path):
    path = tmp_path / "resnet.onnx"
    result = invoke("export", runs["resnet_6blocks"], "-o", path)
    assert result.exit_code == 0, result.output
    assert f"wrote {path}" in result.output and "parity" in result.output
    assert "1×3×32×64" in result.output and "2×3×64×32" in result.output
    assert_exported_run(runs["resnet_6blocks"], path, multiple=4)


def test_no_ema_exports_the_raw_weights_under_the_given_title(runs, unet_onnx, tmp_path):
    path = tmp_path / "raw.onnx"
    result = invoke(
        "export",
        runs["unet_32"],
        "-o",
        path,
        "--no-ema",
        "--title",
        "Sketch to photo",
        "--description",
        "Trained on 8 sample pairs.",
    )
    assert result.exit_code == 0, result.output
    info = read_model_info(path)
    assert info.title == "Sketch to photo" and info.description == "Trained on 8 sample pairs."
    assert info.provenance["ema"] is False and "ema_sha256" not in info.provenance

    image = torch.rand(1, 3, 64, 32) * 2 - 1
    raw = torch_output(load_trained(runs["unet_32"], use_ema=False).nets["G"], image)
    averaged = torch_output(load_trained(runs["unet_32"], use_ema=True).nets["G"], image)
    gap = np.abs(raw - averaged).max()  # tiny after two steps, but far above export error
    assert np.abs(run_onnx(path, image) - raw).max() < gap / 100
    assert np.abs(run_onnx(unet_onnx, image) - averaged).max() < gap / 100


def test_full_provenance_keeps_the_local_paths_for_private_use(runs, tmp_path):
    path = tmp_path / "private.onnx"
    result = invoke("export", runs["unet_32"], "-o", path, "--provenance", "full")
    assert result.exit_code == 0, result.output
    provenance = read_model_info(path).provenance
    assert provenance["run"] == str(runs["unet_32"].resolve())
    assert provenance["checkpoint"] == str(latest_checkpoint(runs["unet_32"]).resolve())


def strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in strings(item)]
    return [value] if isinstance(value, str) else []


def test_shared_settings_keep_only_base_names():
    @dataclass
    class Painting(TrainConfig):
        style_image: str = path_setting()
        early_stop_metric: str = "val/psnr"

    config = Painting(style_image="art/starry night.jpg", init_from="/home/ann/runs/first")
    shared = shareable_config(config)
    assert shared["style_image"] == "starry night.jpg" and shared["init_from"] == "first"
    assert shared["early_stop_metric"] == "val/psnr"  # a slash is not a path
    provenance = shareable_provenance({"file": "C:\\Users\\ann\\net.pth", "step": 3})
    assert provenance == {"file": "net.pth", "step": 3}
    assert shareable_config(TrainConfig()) == TrainConfig().to_dict()


def test_the_shipped_model_names_no_local_folder():
    info = read_model_info(Path(imagexform.__file__).parents[1] / SHIPPED)
    local = [text for text in strings(asdict(info)) if text and is_local_path(text)]
    assert local == []
    assert info.provenance["run"] == "run" and info.provenance["step"] == 4665


def test_fp16_export_computes_in_half_behind_float32_io(runs, tmp_path):
    path = tmp_path / "half.onnx"
    report = export_checkpoint(runs["unet_32"], path, fp16=True)
    assert report.info.precision == "fp16" and report.tolerance == FP16_TOLERANCE
    assert read_model_info(path).precision == "fp16"

    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [t for t in model.graph.initializer if len(t.dims) == 4]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)

    image = torch.rand(2, 3, 32, 96) * 2 - 1
    expected = torch_output(load_trained(runs["unet_32"]).nets["G"], image)
    assert np.abs(run_onnx(path, image) - expected).max() <= FP16_TOLERANCE


def test_net_option_exports_another_network(runs, tmp_path):
    path = tmp_path / "discriminator.onnx"
    result = invoke("export", runs["unet_32"], "-o", path, "--net", "D")
    assert result.exit_code == 0, result.output
    info = read_model_info(path)
    assert info.io.channels == 6  # the conditional PatchGAN reads input and output stacked
    assert info.provenance["net"] == "D" and info.provenance["ema"] is False
    assert "not an image at the input's scale" in info.description

    pair = torch.rand(2, 6, 96, 64) * 2 - 1
    expected = torch_output(load_trained(runs["unet_32"]).nets["D"], pair)
    assert np.abs(run_onnx(path, pair) - expected).max() <= 1e-4


class ExportsDifferently(nn.Module):
    """Does one thing when traced for ONNX and another when run: the silent kind of export
    bug (a branch or Python value baked into the graph) that only a parity check catches."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, image: Tensor) -> Tensor:
        out = self.conv(image)
        return out * 2 if torch.onnx.is_in_onnx_export() else out


def test_parity_failure_names_the_size_and_leaves_no_file(tmp_path):
    path = tmp_path / "bad.onnx"
    info = ModelInfo(family="test", io=IOSpec(), title="differs")
    with pytest.raises(ExportError, match=r"parity check failed at input 1×3×32×64: .* differ"):
        export_onnx(ExportsDifferently(), info, path)
    assert list(tmp_path.iterdir()) == []


class Conditioned(nn.Module):
    """A StarGAN-like generator in miniature: the image plus an attribute vector per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3 + 2, 3, 3, padding=1)

    def forward(self, image: Tensor, attributes: Tensor) -> Tensor:
        planes = attributes[:, :, None, None].expand(-1, -1, *image.shape[2:])
        return torch.tanh(self.conv(torch.cat([image, planes], dim=1)))


def test_condition_inputs_are_named_and_share_the_dynamic_batch(tmp_path):
    condition = ConditionSpec("attributes", labels=("smile", "glasses"), defaults=(0.0, 1.0))
    info = ModelInfo(family="test", io=IOSpec(size_multiple=8, conditions=(condition,)))
    module = Conditioned()
    report = export_onnx(module, info, tmp_path / "conditioned.onnx")

    assert [r.batch for r in report.parity] == [1, 2]
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    image_input, attributes_input = session.get_inputs()
    assert (image_input.name, attributes_input.name) == ("image", "attributes")
    assert attributes_input.shape == [image_input.shape[0], 2]  # the same named batch
    image, attributes = torch.rand(3, 3, 24, 40) * 2 - 1, torch.rand(3, 2)
    (actual,) = session.run(["output"], {"image": image.numpy(), "attributes": attributes.numpy()})
    with torch.inference_mode():
        expected = module(image, attributes).numpy()
    assert np.abs(actual - expected).max() <= 1e-4
    assert read_model_info(report.path).io.conditions == (condition,)


def test_export_errors_name_what_is_wrong(runs, tmp_path):
    missing_folder = invoke("export", runs["unet_32"], "-o", tmp_path / "nope" / "m.onnx")
    assert missing_folder.exit_code == 2
    assert f"folder {tmp_path / 'nope'} does not exist" in missing_folder.output

    missing_run = invoke("export", tmp_path / "no-run", "-o", tmp_path / "m.onnx")
    assert missing_run.exit_code == 2
    assert f"{tmp_path / 'no-run'}: no such checkpoint" in missing_run.output

    unknown_net = invoke("export", runs["unet_32"], "-o", tmp_path / "m.onnx", "--net", "G_B")
    assert unknown_net.exit_code == 2
    assert "no network 'G_B'; it has D, G" in unknown_net.output
    assert list(tmp_path.iterdir()) == []


def test_import_reference_checkpoint_reproduces_reference_output(tmp_path):
    """The pix2pix default generator at its own size multiple, 256: the case where the
    exporter once fixed height and width (ResNet and instance norm are covered by the run)."""
    folder = fixture_dir()
    entry = fixture_entry(load_manifest(), "junyanz_unet256_batch")
    source = folder / entry["state_dict"]["file"]
    path = tmp_path / "imported.onnx"

    result = invoke("import", source, "-o", path)

    assert result.exit_code == 0, result.output
    assert "recognised by importer junyanz" in result.output
    info = read_model_info(path)
    assert info.family == "pix2pix" and info.config["netG"] == entry["builder_args"]["netG"]
    assert info.title == f"pix2pix from {source.name}"
    assert info.provenance["file"] == source.name and info.provenance["importer"] == "junyanz"
    assert info.provenance["sha256"] == entry["state_dict"]["sha256"]
    assert str(folder) not in info.to_json() and str(folder.resolve()) not in info.to_json()
    image = torch.from_numpy(np.load(folder / entry["inputs"][0]["file"]))
    spec = entry["outputs"][0]
    expected = np.load(folder / spec["file"])
    actual = run_onnx(path, image)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= spec["tolerance"]["max_abs_diff"] + 1e-4


def test_import_refuses_what_no_importer_knows(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    result = invoke("import", text, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and f"{text}: not a PyTorch checkpoint" in result.output

    unknown = tmp_path / "unknown.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4)}, unknown)
    result = invoke("import", unknown, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert f"{unknown}: no importer recognises this checkpoint (tried: " in result.output
    assert "junyanz, " in result.output and "its first keys: encoder.weight" in result.output

    pickled = tmp_path / "pickled.pth"
    torch.save({"net": nn.ReLU()}, pickled)
    result = invoke("import", pickled, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and "would execute pickled code" in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_models_info_prints_the_metadata(unet_onnx):
    result = invoke("models", "info", unet_onnx)
    assert result.exit_code == 0, result.output
    for expected in [
        "family:      pix2pix (plugin pix2pix",
        "height and width multiples of 32",
        "conditions:  none",
        "step: 2",
        "netG = 'unet_32'",
        "onnx input:  image [batch, 3, 32*h_blocks, 32*w_blocks] tensor(float)",
    ]:
        assert expected in result.output

    as_json = invoke("models", "info", unet_onnx, "--json")
    assert as_json.exit_code == 0
    assert ModelInfo.from_json(as_json.output) == read_model_info(unet_onnx)
    assert json.loads(as_json.output)["provenance"]["step"] == 2


def test_models_info_on_files_without_our_metadata(tmp_path):
    text = tmp_path / "readme.onnx"
    text.write_text("hello\n")
    result = invoke("models", "info", text)
    assert result.exit_code == 2 and f"{text}: not an ONNX model" in result.output

    foreign = tmp_path / "foreign.onnx"
    image = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 3, "h", "w"])
    out = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [image], [out]
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    model.ir_version = MAX_IR_VERSION
    onnx.save(model, str(foreign))
    result = invoke("models", "info", foreign)
    assert result.exit_code == 2
    assert "onnx input:  x [n, 3, h, w] tensor(float)" in result.output
    assert f"{foreign}: has no imagexform metadata" in result.output


def test_commands_and_models_info_stay_torch_free(unet_onnx):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from imagexform.commands.models import models_group\n"
        f"result = CliRunner().invoke(models_group, ['info', {str(unet_onnx)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_import_names_the_problem_with_damaged_or_odd_files(tmp_path):
    generator = ResnetGenerator(3, 3, ngf=8, norm="instance", n_blocks=6)
    good = tmp_path / "latest_net_G_A.pth"
    torch.save(generator.state_dict(), good)

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = invoke("import", truncated, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and f"{truncated}: not a PyTorch checkpoint" in result.output

    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    result = invoke("import", listed, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and "holds a list, not a state dict" in result.output

    state = generator.state_dict()
    key = "model.10.conv_block.1.weight"
    state[key] = torch.zeros(8, 8, 3, 3)
    reshaped = tmp_path / "reshaped.pth"
    torch.save(state, reshaped)
    result = invoke("import", reshaped, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert "looks like a junyanz resnet_6blocks generator (ngf 8)" in result.output
    assert f"tensor {key} has shape [8, 8, 3, 3] where [32, 32, 3, 3] fits" in result.output
    assert not (tmp_path / "m.onnx").exists()
