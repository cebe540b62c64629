"""Face-edit settings, with the defaults of yunjey/stargan's CelebA training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imagexform.plugin_api import GANConfig, path_setting


@dataclass
class FaceEditConfig(GANConfig):
    steps: int = 200000
    batch_size: int = 16
    image_size: int = 128
    crop_size: int = 178  # centre crop of the aligned CelebA photo before resizing
    flip: bool = True
    lr: float = 1e-4
    lr_D: float = 1e-4
    gan_mode: Literal["wgangp"] = "wgangp"  # the reference's only objective
    lr_decay_start: float = 0.5  # the reference decays over the second 100k of 200k steps
    attributes: str = "Black_Hair,Blond_Hair,Brown_Hair,Male,Young"
    # mutually exclusive attributes: ";" between groups, "," within one
    groups: str = "Black_Hair,Blond_Hair,Brown_Hair"
    # empty: list_attr_celeba.txt or attributes.csv in the data folder
    attribute_file: str = path_setting()
    conv_dim: int = 64
    repeat_num: int = 6  # residual blocks of G; strided convs of D
    d_conv_dim: int = 64
    # InstanceNorm at inference: "per_image" statistics (the reference's test never calls
    # eval(), so its published results use them) or the "running" averages kept in training
    instance_norm_stats: Literal["per_image", "running"] = "per_image"
    n_critic: int = 5  # discriminator updates per generator update
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0


def attribute_names(config: FaceEditConfig) -> list[str]:
    return [name.strip() for name in config.attributes.split(",") if name.strip()]


def attribute_groups(config: FaceEditConfig) -> list[list[str]]:
    groups = [
        [n.strip() for n in part.split(",") if n.strip()] for part in config.groups.split(";")
    ]
    return [group for group in groups if len(group) > 1]
