"""CycleGAN: unpaired data, image pool, the reference's LR schedule, training, resume and
export of both directions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conformance import fixture_dir, fixture_entry, load_manifest

from imagexform.cli import cli
from imagexform.errors import DataError
from imagexform.io.images import read_image
from imagexform.runtime import load_model
from imagexform.runtime.modelfile import inspect_model
from imagexform.train.restore import load_trained
from imagexform.train.schedules import lr_factor
from imagexform_cyclegan.config import CycleGANConfig
from imagexform_cyclegan.data import UnpairedDataset
from imagexform_cyclegan.image_pool import ImagePool

TINY = [
    "netG=resnet_6blocks",
    "ngf=4",
    "ndf=4",
    "image_size=32",
    "load_size=36",
    "pool_size=2",
    "log_every=1",
]


def draw(folder: Path, shape: str, colour: tuple[int, int, int], count: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(shape) + count)
    for index in range(count):
        image = np.full((40, 40, 3), 230, np.uint8)
        x, y = (int(v) for v in rng.integers(10, 30, 2))
        if shape == "circle":
            cv2.circle(image, (x, y), 8, colour, -1)
        else:
            cv2.rectangle(image, (x - 7, y - 7), (x + 7, y + 7), colour, -1)
        cv2.imwrite(str(folder / f"{shape}{index}.png"), image)


@pytest.fixture
def domains(tmp_path: Path) -> Path:
    root = tmp_path / "shapes"
    draw(root / "trainA", "circle", (0, 0, 200), 5)
    draw(root / "trainB", "square", (200, 0, 0), 3)
    draw(root / "testA", "circle", (0, 0, 200), 2)
    draw(root / "testB", "square", (200, 0, 0), 2)
    return root


def train(data: Path | None, run: Path, *settings: str):
    sets = [part for item in [*TINY, *settings] for part in ("--set", item)]
    args = ["train", "cyclegan", "--out", str(run), "--device", "cpu", *sets]
    if data is not None:
        args += ["--data", str(data)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_a_few_steps_train_all_four_networks_and_resume(domains, tmp_path):
    run = tmp_path / "run"
    first = train(domains, run, "steps=2", "val_every=2")
    assert first.exit_code == 0, first.output
    assert "finished at step 2" in first.output
    assert "val/cycle_A" in first.output
    before = load_trained(run, use_ema=False).nets
    assert sorted(before) == ["D_A", "D_B", "G_A", "G_B"]

    resumed = train(None, run, "steps=4", "val_every=2")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output and "finished at step 4" in resumed.output
    after = load_trained(run, use_ema=False).nets
    for name in after:
        changed = any(
            not torch.equal(a, b)
            for a, b in zip(before[name].parameters(), after[name].parameters(), strict=True)
        )
        assert changed, f"{name} did not train"


def test_missing_or_empty_domain_folders_are_named(domains, tmp_path):
    (domains / "trainB" / "square0.png").unlink()
    for path in (domains / "trainB").iterdir():
        path.unlink()
    result = train(domains, tmp_path / "run", "steps=1")
    assert result.exit_code == 2
    assert "trainB" in result.output and "holds no images" in result.output
    (domains / "trainB").rmdir()
    result = train(domains, tmp_path / "run", "steps=1")
    assert "trainB: folder does not exist" in result.output


def test_b_is_drawn_independently_or_by_index_with_serial_batches(domains):
    random_b = UnpairedDataset(domains, crop_size=32, load_size=36)
    assert len(random_b) == 5  # the larger domain
    drawn = {random_b[(0, seed)]["B_path"] for seed in range(12)}
    assert len(drawn) > 1
    assert random_b[(0, 7)]["B_path"] == random_b[(0, 7)]["B_path"]  # from the seed alone
    serial = UnpairedDataset(domains, crop_size=32, load_size=36, serial_batches=True)
    names = [Path(serial[(index, index)]["B_path"]).name for index in range(5)]
    assert names == ["square0.png", "square1.png", "square2.png", "square0.png", "square1.png"]
    with pytest.raises(DataError, match="testX"):
        UnpairedDataset(domains, split="testX")


def test_image_pool_returns_past_fakes_half_of_the_time_once_full():
    torch.manual_seed(0)
    pool = ImagePool(3)
    first = [torch.full((1, 1, 2, 2), float(i)) for i in range(3)]
    for image in first:
        assert torch.equal(pool.query(image), image)  # filling: the new image itself
    swapped = 0
    for i in range(3, 403):
        new = torch.full((1, 1, 2, 2), float(i))
        returned = pool.query(new)
        if not torch.equal(returned, new):
            swapped += 1
            assert float(returned[0, 0, 0, 0]) < i  # an older fake
    assert 160 <= swapped <= 240
    assert torch.equal(ImagePool(0).query(new), new)


@pytest.mark.parametrize("epoch", [0, 1, 99, 100, 101, 150, 199])
def test_lr_follows_the_reference_rule_epoch_by_epoch(epoch):
    """junyanz, n_epochs = n_epochs_decay = 100, epoch_count = 1:
    lambda_rule(epoch) = 1 - max(0, epoch + 1 - 100) / 101."""
    steps_per_epoch = 7.5  # 15 images at batch 2: epochs need not be whole steps
    config = CycleGANConfig(steps=1500, lr_decay_start=0.5)
    expected = 1.0 - max(0, epoch + 1 - 100) / 101
    first_step = int(np.ceil(epoch * steps_per_epoch))
    last_step = int(np.ceil((epoch + 1) * steps_per_epoch)) - 1
    for step in (first_step, last_step):
        assert lr_factor(config, step, steps_per_epoch) == pytest.approx(expected)


def test_export_writes_both_directions_that_say_which(domains, tmp_path):
    run = tmp_path / "run"
    assert train(domains, run, "steps=1").exit_code == 0
    target = tmp_path / "shapes.onnx"
    result = CliRunner().invoke(
        cli,
        ["export", str(run), "-o", str(target), "--variant", "all", "--description", "Shapes"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    photo = read_image(domains / "testA" / "circle0.png")
    trained = load_trained(run)
    for variant, net in (("A2B", "G_A"), ("B2A", "G_B")):
        path = tmp_path / f"shapes-{variant}.onnx"
        info = inspect_model(path).info
        assert info.variant == variant and variant in info.title
        assert info.description == f"Shapes ({variant})"
        model = load_model(path)
        x = torch.from_numpy(photo[4:36, 4:36].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
        with torch.no_grad():
            expected = trained.nets[net](x[None])[0].permute(1, 2, 0).numpy()
        ours = model.run(np.ascontiguousarray(x[None].numpy()))[0].transpose(1, 2, 0)
        assert np.abs(ours - expected).max() <= 1e-4
    generator = inspect_model(target).info  # "all" writes the family's own model too
    assert generator.variant == "" and generator.description == "Shapes"
    a2b = load_model(tmp_path / "shapes-A2B.onnx").run(np.zeros((1, 3, 32, 32), np.float32))
    assert np.array_equal(load_model(target).run(np.zeros((1, 3, 32, 32), np.float32)), a2b)

    refused = CliRunner().invoke(cli, ["export", str(run), "-o", str(target), "--variant", "X"])
    assert refused.exit_code == 2 and "variants: A2B, B2A" in refused.output


@pytest.mark.parametrize("mode", ["vanilla", "hinge", "wgangp"])
def test_other_gan_losses_train(domains, tmp_path, mode):
    result = train(domains, tmp_path / mode, "steps=1", f"gan_mode={mode}", "lambda_identity=0")
    assert result.exit_code == 0, result.output
    assert ("gp " in result.output) == (mode == "wgangp")


def test_a_junyanz_generator_imports_as_one_direction_of_a_cyclegan(tmp_path):
    """The file cannot tell pix2pix from CycleGAN; --family says, and the model keeps it."""
    folder = fixture_dir()
    entry = fixture_entry(load_manifest(), "junyanz_resnet9_instance")
    source = folder / entry["state_dict"]["file"]
    target = tmp_path / "horse2zebra.onnx"
    result = CliRunner().invoke(
        cli, ["import", str(source), "-o", str(target), "--family", "cyclegan"]
    )
    assert result.exit_code == 0, result.output
    info = inspect_model(target).info
    assert info.family == "cyclegan" and info.plugin == "cyclegan"
    assert info.config["netG"] == "resnet_9blocks" and info.config["norm"] == "instance"
    assert info.provenance["importer"] == "junyanz" and "one direction" in info.description
    image = np.load(folder / entry["inputs"][0]["file"])
    expected = np.load(folder / entry["outputs"][0]["file"])
    assert np.abs(load_model(target).run(image) - expected).max() <= 1e-4

    plain = tmp_path / "plain.onnx"
    assert CliRunner().invoke(cli, ["import", str(source), "-o", str(plain)]).exit_code == 0
    assert inspect_model(plain).info.family == "pix2pix"  # nothing said: the importer's own
    refused = CliRunner().invoke(
        cli, ["import", str(source), "-o", str(tmp_path / "x.onnx"), "--family", "style"]
    )
    assert refused.exit_code == 2 and "style cannot take" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and not (tmp_path / "x.onnx").exists()
