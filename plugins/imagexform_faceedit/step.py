"""One StarGAN step as yunjey/stargan's solver takes it: the critic every step (WGAN-GP
adversarial + attribute classification on real photos), the generator every ``n_critic``-th
(adversarial + classification of its edits + cycle reconstruction back to the original)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagexform.plugin_api import TrainContext, TrainStep, gradient_penalty
from imagexform_faceedit.config import FaceEditConfig, attribute_groups, attribute_names


def random_targets(labels: Tensor, names: list[str], groups: list[list[str]]) -> Tensor:
    """Target attributes to edit towards: independent attributes at random, and exactly one
    member of each mutually exclusive group (one hair colour), as real faces have."""
    targets = (torch.rand(labels.shape, device=labels.device) < 0.5).to(labels.dtype)
    for group in groups:
        columns = [names.index(name) for name in group]
        chosen = torch.randint(0, len(columns), (len(labels),), device=labels.device)
        targets[:, columns] = F.one_hot(chosen, len(columns)).to(labels.dtype)
    return targets


def classification(logits: Tensor, labels: Tensor) -> Tensor:
    """The reference's BCE summed over attributes, averaged over the batch."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="sum") / len(labels)


class FaceEditStep(TrainStep):
    config: FaceEditConfig

    def __init__(self, config: FaceEditConfig, nets: dict[str, nn.Module], context: TrainContext):
        super().__init__(config, nets, context)
        self.G, self.D = nets["G"], nets["D"]
        self.names = attribute_names(config)
        self.groups = attribute_groups(config)
        self.optimizer_G = self.adam("G", self.G)
        self.optimizer_D = self.adam("D", self.D, lr=config.lr_D)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        config, context = self.config, self.context
        real, labels = batch["image"], batch["labels"].float()
        targets = random_targets(labels, self.names, self.groups)
        with context.autocast():
            real_src, real_cls = self.D(real)
            fake = self.G(real, targets)
            fake_src, _ = self.D(fake.detach())
            loss_real = -real_src.float().mean()
            loss_fake = fake_src.float().mean()
            loss_cls = classification(real_cls, labels)
        penalty = gradient_penalty(lambda x: self.D(x)[0], real, fake)
        loss_d = loss_real + loss_fake + config.lambda_cls * loss_cls + config.lambda_gp * penalty
        context.optimize(loss_d, self.optimizer_D)
        metrics = {"D_real": loss_real, "D_fake": loss_fake, "D_cls": loss_cls, "gp": penalty}
        if (context.step + 1) % config.n_critic == 0:
            with context.frozen(self.D), context.autocast():
                fake = self.G(real, targets)
                fake_src, fake_cls = self.D(fake)
                loss_g_fake = -fake_src.float().mean()
                loss_g_cls = classification(fake_cls, targets)
                loss_rec = (real - self.G(fake, labels)).abs().float().mean()
                loss_g = loss_g_fake + config.lambda_rec * loss_rec + config.lambda_cls * loss_g_cls
            context.optimize(loss_g, self.optimizer_G)
            metrics.update(G_fake=loss_g_fake, G_cls=loss_g_cls, G_rec=loss_rec)
        return {key: value.detach() for key, value in metrics.items()}

    def evaluate(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        real, labels = batch["image"], batch["labels"].float()
        return {"reconstruction_l1": (real - self.G(real, labels)).abs().mean()}

    def sample(self, batch: Mapping[str, Any]) -> list[Tensor]:
        """The photo, then each attribute flipped alone (a group member switched on)."""
        real, labels = batch["image"], batch["labels"].float()
        rows = [real]
        for column in range(labels.shape[1]):
            target = labels.clone()
            target[:, column] = 1 - target[:, column]
            for group in self.groups:
                columns = [self.names.index(name) for name in group]
                if column in columns and bool(target[0, column]):
                    target[:, [c for c in columns if c != column]] = 0
            rows.append(self.G(real, target))
        return rows
