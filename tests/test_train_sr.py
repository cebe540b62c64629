"""Training the super-resolution family: tiny real runs of both architectures and stages."""

from __future__ import annotations

import cv2
import pytest
import torch
from click.testing import CliRunner

from imagexform.cli import cli
from imagexform.losses.perceptual import RANDOM_VGG_ENV
from imagexform.train.context import TrainContext
from imagexform.train.device import choose_precision
from imagexform_sr.config import SRConfig
from imagexform_sr.family import SuperResolutionFamily

TINY = {
    "srresnet": {"arch": "srresnet", "num_feat": 8, "num_block": 1},
    "rrdbnet": {"arch": "rrdbnet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4},
}


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    for split, names in (("train", ("coffee", "astronaut")), ("val", ("chelsea",))):
        (root / split).mkdir(parents=True)
        for name in names:
            image = cv2.imread(f"assets/photos/{name}.jpg")
            cv2.imwrite(str(root / split / f"{name}.png"), image[:96, :96])
    return root


@pytest.mark.parametrize("arch", sorted(TINY))
def test_loss_decreases_on_a_repeated_image(photos, arch):
    torch.manual_seed(0)
    family = SuperResolutionFamily()
    config = SRConfig(**TINY[arch], image_size=32, batch_size=2, lr=2e-3)
    dataset = family.dataset(config, photos, "train")
    batch = torch.utils.data.default_collate([dataset[(0, 1)], dataset[(0, 1)]])
    device = torch.device("cpu")
    context = TrainContext(device, choose_precision(device, "auto", False), 0.0, 50)
    step = family.train_step(config, family.build(config), context)
    losses = [step(batch)["pixel"] for _ in range(50)]
    assert all(torch.isfinite(torch.tensor(losses)))
    # SRResNet starts near bilinear (its input is added back), so it has less to gain
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5


def test_gan_stage_with_perceptual_loss_starts_from_the_psnr_stage(photos, tmp_path, monkeypatch):
    monkeypatch.setenv(RANDOM_VGG_ENV, "1")  # test-only: no ImageNet weights here
    runner = CliRunner()
    common = ["--data", str(photos), "--device", "cpu", "--set", "image_size=32"]
    common += ["--set", "arch=srresnet", "--set", "num_feat=8", "--set", "num_block=1"]
    psnr_run, gan_run = tmp_path / "psnr", tmp_path / "gan"
    first = runner.invoke(cli, ["train", "sr", "--out", str(psnr_run), *common, "--set", "steps=2"])
    assert first.exit_code == 0, first.output
    assert "val/psnr_y" in first.output
    gan = ["steps=2", "gan_weight=0.1", "perceptual_weight=1", "netD=unet", "num_feat_D=8"]
    settings = [part for item in [*gan, f"init_from={psnr_run}"] for part in ("--set", item)]
    second = runner.invoke(cli, ["train", "sr", "--out", str(gan_run), *common, *settings])
    assert second.exit_code == 0, second.output
    assert f"initialised G from {psnr_run}" in second.output
    assert " G_gan " in second.output and " perceptual " in second.output
