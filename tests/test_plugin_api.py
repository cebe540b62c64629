"""The plugin API's contract, seen from a family written against ``imagexform.plugin_api``
alone: an ordinary torch Dataset, a step named by string, tensors returned from the step."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from imagexform import plugin_api as api
from imagexform.plugins import PluginHost, PluginRecord
from imagexform.train import fit
from imagexform.train.trainer import Trainer


class Patches(Dataset):
    """An ordinary map-style dataset whose augmentation draws from the global generators."""

    def __init__(self, count: int = 6) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.rand(count, 3, 12, 12, generator=generator) * 2 - 1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        top, left = (int(v) for v in torch.randint(0, 5, (2,)))
        crop = self.images[index, :, top : top + 8, left : left + 8]
        if random.random() < 0.5:
            crop = crop.flip(-1)
        return {"A": crop, "B": -crop}


@dataclass
class ToyConfig(api.TrainConfig):
    steps: int = 4
    batch_size: int = 2
    image_size: int = 8
    lr: float = 1e-2
    log_every: int = 1
    save_every: int = 2
    sample_every: int = 0
    precision: str = "fp32"
    fail_at: int = 0  # a step that returns a NaN loss; 0 never


class ToyStep(api.TrainStep):
    def __init__(self, config, nets, context) -> None:
        super().__init__(config, nets, context)
        self.optimizer = self.adam("G", nets["G"])

    def __call__(self, batch):
        loss = (self.nets["G"](batch["A"]) - batch["B"]).abs().mean()
        self.context.optimize(loss, self.optimizer)
        nan = self.context.step + 1 == self.config.fail_at
        return {"l1": loss.detach() * (torch.nan if nan else 1.0)}

    def evaluate(self, batch):
        return {"l1": (self.nets["G"](batch["A"]) - batch["B"]).abs().mean()}

    def sample(self, batch):
        return [batch["A"], self.nets["G"](batch["A"]), batch["B"]]


class ToyFamily(api.Family):
    name = "toy-api"
    summary = "a family written against the plugin API alone"
    config_class = ToyConfig
    step_class = f"{__name__}:ToyStep"

    def build(self, config):
        return {"G": nn.Conv2d(3, 3, 3, padding=1)}

    def dataset(self, config, root, split):
        return Patches() if split == "train" else None

    def io_spec(self, config):
        return api.IOSpec()


def weights(run: Path) -> dict[str, torch.Tensor]:
    from imagexform.train.checkpoint import load_checkpoint

    return load_checkpoint(run).weights["G"]


def test_an_ordinary_dataset_trains_and_resumes_bit_identically(tmp_path: Path) -> None:
    family = ToyFamily()
    whole = fit(family, tmp_path, tmp_path / "whole", {"num_workers": 0}, echo=lambda _: None)
    assert whole.step == 4 and whole.checkpoint is not None

    fit(family, tmp_path, tmp_path / "halves", {"steps": 2}, echo=lambda _: None)
    told: list[str] = []
    resumed = fit(family, None, tmp_path / "halves", {"steps": "4"}, resume=True, echo=told.append)
    assert resumed.step == 4
    assert any(line.startswith("resuming ") for line in told)
    for key, value in weights(tmp_path / "whole").items():
        assert torch.equal(value, weights(tmp_path / "halves")[key]), key


def test_the_wrapped_dataset_varies_its_augmentation_by_sample_seed() -> None:
    from imagexform.data.samples import as_samples

    samples = as_samples(Patches())
    assert torch.equal(samples[(0, 7)]["A"], samples[(0, 7)]["A"])
    crops = {tuple(samples[(0, seed)]["A"].flatten()[:4].tolist()) for seed in range(12)}
    assert len(crops) > 1


def test_defaults_export_the_generator_and_the_step_owns_its_optimizers(tmp_path: Path) -> None:
    family = ToyFamily()
    trainer = Trainer(family, ToyConfig(), data_root=tmp_path, run_dir=tmp_path / "run")
    assert isinstance(trainer.step_fn, ToyStep)
    assert list(trainer.optimizers) == ["G"]
    assert trainer.optimizers["G"].param_groups[0]["betas"] == (0.9, 0.999)
    assert family.inference_module(trainer.config, trainer.nets) is trainer.nets["G"]


def test_a_gan_config_gives_the_step_its_betas(tmp_path: Path) -> None:
    @dataclass
    class ToyGANConfig(api.GANConfig, ToyConfig):
        beta1: float = 0.25

    class ToyGANFamily(ToyFamily):
        config_class = ToyGANConfig

    trainer = Trainer(ToyGANFamily(), ToyGANConfig(), data_root=tmp_path, run_dir=tmp_path / "r")
    assert trainer.optimizers["G"].param_groups[0]["betas"] == (0.25, 0.999)


def test_a_family_without_a_step_class_is_told_what_to_set(tmp_path: Path) -> None:
    class Stepless(ToyFamily):
        step_class = ""

    with pytest.raises(TypeError, match=r"step_class = 'package\.module:Class'"):
        Trainer(Stepless(), ToyConfig(), data_root=tmp_path, run_dir=tmp_path / "run")


def test_losses_are_read_and_checked_only_on_the_steps_that_log(tmp_path: Path) -> None:
    quiet: dict = {"echo": lambda _: None}
    with pytest.raises(FloatingPointError, match="step 2: non-finite loss l1"):
        fit(ToyFamily(), tmp_path, tmp_path / "logged", {"fail_at": 2, "log_every": 2}, **quiet)
    # step 3's losses are never read (reading them would sync the device), so never checked
    result = fit(
        ToyFamily(), tmp_path, tmp_path / "unlogged", {"fail_at": 3, "log_every": 2}, **quiet
    )
    assert result.step == 4


def test_skipped_files_are_reported_through_the_dataset_contract(tmp_path: Path) -> None:
    class WithSkips(api.SampleDataset):
        skipped = ((tmp_path / "broken.png", "not a decodable image"),)

        def __len__(self) -> int:
            return 4

        def load(self, index, rng):
            image = torch.full((3, 8, 8), float(index) / 4)
            return {"A": image, "B": image}

    class Skipping(ToyFamily):
        def dataset(self, config, root, split):
            return WithSkips() if split == "train" else None

    trainer = Trainer(Skipping(), ToyConfig(), data_root=tmp_path, run_dir=tmp_path / "run")
    assert "4 training samples (1 unreadable skipped)" in trainer._data_summary()


def test_a_plugin_implementing_the_removed_losses_hook_fails_with_the_hook_named() -> None:
    class LossPlugin:
        @api.hookimpl
        def imagexform_losses(self):
            return {}

    host = PluginHost()
    host.register(LossPlugin(), PluginRecord(name="losses"))
    assert host.records["losses"].status == "failed"
    assert "imagexform_losses" in host.records["losses"].error
