"""Typed configuration: TOML, --set overrides and their errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from imagexform.config import (
    apply_text,
    apply_values,
    from_dict,
    load_toml,
    parse_assignments,
    to_toml,
)
from imagexform.errors import ConfigError
from imagexform_pix2pix.config import Pix2PixConfig


def test_text_overrides_are_parsed_to_the_field_types():
    config = apply_text(
        Pix2PixConfig(),
        parse_assignments(["steps=12", "lr=1e-3", "dropout=off", "netG=unet_32", "seed = 7"]),
    )
    assert (config.steps, config.lr, config.dropout, config.netG, config.seed) == (
        12,
        1e-3,
        False,
        "unet_32",
        7,
    )
    assert Pix2PixConfig().steps != 12  # the defaults object is untouched


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("stepz=3", "unknown setting 'stepz'"),
        ("steps=many", "setting 'steps' expects int, got 'many'"),
        ("lr=fast", "setting 'lr' expects float"),
        ("dropout=maybe", "setting 'dropout' expects bool"),
        ("netG=unet_1000", "setting 'netG' expects one of 'unet_32'"),
        ("gan_mode=wgan", "setting 'gan_mode' expects one of"),
    ],
)
def test_bad_overrides_name_the_key_and_expected_type(assignment, message):
    with pytest.raises(ConfigError, match=message):
        apply_text(Pix2PixConfig(), parse_assignments([assignment]))


def test_assignment_without_equals_is_rejected():
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["steps"])


def test_typed_values_accept_int_for_float_but_not_bool_for_int():
    assert apply_values(Pix2PixConfig(), {"lr": 1}).lr == 1.0
    with pytest.raises(ConfigError, match="'steps' expects int, got True"):
        apply_values(Pix2PixConfig(), {"steps": True})
    with pytest.raises(ConfigError, match="'ngf' expects int, got '64'"):
        apply_values(Pix2PixConfig(), {"ngf": "64"})


def test_toml_round_trip_and_file_errors(tmp_path: Path):
    custom = apply_text(Pix2PixConfig(), {"steps": "5", "direction": "BtoA", "lr": "0.01"})
    path = tmp_path / "run.toml"
    path.write_text(to_toml(custom))
    assert from_dict(Pix2PixConfig, tomllib.loads(path.read_text())) == custom
    assert apply_values(Pix2PixConfig(), load_toml(path)) == custom

    with pytest.raises(ConfigError, match=r"missing\.toml: config file not found"):
        load_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_toml(broken)
