"""junyanz pix2pix/CycleGAN checkpoints load into our networks and reproduce the reference.

Fixtures: ``shared/conformance`` (see its README). Every junyanz file must load with
``strict=True`` after only the documented remap, enumerate the reference's keys in the same
order, and give the reference output within the manifest's tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from conformance import (
    assert_checkpoint_hash,
    assert_matches,
    case_id,
    case_spec,
    fixture_dir,
    fixture_entry,
    fixture_inputs,
    load_manifest,
    load_state,
    variant_entry,
)
from torch import Tensor, nn

from imagexform.errors import UserError
from imagexform.nn import (
    ResnetGenerator,
    UnetGenerator,
    build_patchgan,
    patch_instance_norm_state,
)
from imagexform_pix2pix.config import Pix2PixConfig
from imagexform_pix2pix.detect import detect_image_generator
from imagexform_pix2pix.importer import JunyanzGeneratorImporter
from imagexform_pix2pix.networks import build_discriminator, build_generator

GENERATORS = [
    "junyanz_unet256_batch",
    "junyanz_unet128_instance",
    "junyanz_resnet9_instance",
    "junyanz_resnet6_instance",
]
DISCRIMINATORS = [
    "junyanz_D_basic_instance",
    "junyanz_D_basic_batch_cond",
    "junyanz_D_nlayers5_instance",
    "junyanz_D_pixel_batch",
]
LEGACY = ("junyanz_resnet9_instance", "junyanz_resnet9_instance_legacy_in_keys")
# (main fixture, variant or None): the variant's weights must give the main fixture's outputs.
CASES = [(fixture_id, None) for fixture_id in GENERATORS + DISCRIMINATORS] + [LEGACY]
GENERATOR_CASES = [(fixture_id, None) for fixture_id in GENERATORS] + [LEGACY]


REMAPS: dict[str, Callable[[nn.Module, Mapping[str, Tensor]], dict[str, Tensor]]] = {
    "none": lambda _net, state: dict(state),
    "junyanz_patch_instance_norm": patch_instance_norm_state,
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_manifest()


def _build(entry: dict[str, Any]) -> nn.Module:
    """Our network for the reference ``define_G``/``define_D`` call the manifest records."""
    args = entry["builder_args"]
    if entry["builder"] == "junyanz.define_G":
        return build_generator(
            Pix2PixConfig(
                input_nc=args["input_nc"],
                output_nc=args["output_nc"],
                ngf=args["ngf"],
                netG=args["netG"],
                norm=args["norm"],
                dropout=args["use_dropout"],
            )
        )
    assert entry["builder"] == "junyanz.define_D"
    return build_patchgan(
        args["netD"], args["input_nc"], args["ndf"], args["n_layers_D"], args["norm"]
    )


def _loaded(folder: Path, entry: dict[str, Any], spec: dict[str, Any]) -> nn.Module:
    net = _build(entry)
    state = REMAPS[spec["remap"]](net, load_state(folder, spec))
    net.load_state_dict(state, strict=True)
    return net


def test_every_junyanz_fixture_is_covered(manifest: dict[str, Any]) -> None:
    listed = {entry["id"] for entry in manifest["fixtures"] if entry["id"].startswith("junyanz")}
    variants = {
        variant["id"]
        for entry in manifest["fixtures"]
        if entry["id"].startswith("junyanz")
        for variant in entry["variants"]
    }
    assert listed == set(GENERATORS + DISCRIMINATORS)
    assert variants == {LEGACY[1]}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fixture_file_matches_manifest_hash(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    assert_checkpoint_hash(manifest, case)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_checkpoint_loads_strictly_and_reproduces_output(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    folder, entry, spec = case_spec(manifest, case)
    net = _loaded(folder, entry, spec).eval()

    ours = [(key, list(tensor.shape)) for key, tensor in net.state_dict().items()]
    assert ours == [(key, shape) for key, shape, _dtype in entry["state_dict"]["keys"]]
    with torch.no_grad():
        out = net(*fixture_inputs(folder, entry))
    assert_matches(out, folder, entry["outputs"][0])


def test_legacy_instance_norm_keys_need_the_patch(manifest: dict[str, Any]) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, LEGACY[0])
    variant = variant_entry(entry, LEGACY[1])
    state = load_state(folder, variant)
    net = _build(entry)
    with pytest.raises(RuntimeError, match="running"):
        net.load_state_dict(dict(state), strict=True)

    patched = patch_instance_norm_state(net, state)
    added = variant["state_dict"]["added_keys"]
    assert set(state) - set(patched) == set(added)
    assert list(patched) == [key for key in state if key not in added]


def test_unet_batch_norm_with_batch_statistics(manifest: dict[str, Any]) -> None:
    """The reference's test.py without --eval: BatchNorm normalises with the image's own
    statistics (dropout is off here, since the reference's random dropout is unreproducible)."""
    folder = fixture_dir()
    entry = fixture_entry(manifest, "junyanz_unet256_batch")
    (extra,) = entry["extra_outputs"]
    assert extra["mode"] == "bn_batchstats"
    net = _loaded(folder, entry, entry).eval()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.train()
    with torch.no_grad():
        out = net(*fixture_inputs(folder, entry))
    assert_matches(out, folder, extra)


def test_pix2pix_discriminator_loads_the_conditional_reference_d(manifest: dict[str, Any]) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, "junyanz_D_basic_batch_cond")
    net = build_discriminator(Pix2PixConfig(input_nc=3, output_nc=3, ndf=16, netD="basic"))
    net.load_state_dict(load_state(folder, entry), strict=True)
    with torch.no_grad():
        out = net.eval()(*fixture_inputs(folder, entry))
    assert_matches(out, folder, entry["outputs"][0])


@pytest.mark.parametrize("case", GENERATOR_CASES, ids=case_id)
def test_detect_recovers_generator_settings(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    folder, entry, spec = case_spec(manifest, case)
    args = entry["builder_args"]
    settings = detect_image_generator(load_state(folder, spec))
    assert settings is not None
    expected = {key: args[key] for key in ("netG", "ngf", "norm", "input_nc", "output_nc")}
    assert {key: settings[key] for key in expected} == expected
    # Dropout is only recorded by the ResNet layout (it shifts an index); none of these use it.
    assert settings["dropout"] is (None if args["netG"].startswith("unet") else False)


@pytest.mark.parametrize("case", GENERATOR_CASES, ids=case_id)
def test_importer_reproduces_reference_output(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    folder, entry, spec = case_spec(manifest, case)
    args = entry["builder_args"]

    imported = JunyanzGeneratorImporter().load(load_state(folder, spec))

    assert imported is not None
    assert imported.family == "pix2pix"
    assert isinstance(imported.config, Pix2PixConfig)
    assert (imported.config.netG, imported.config.ngf, imported.config.norm) == (
        args["netG"],
        args["ngf"],
        args["norm"],
    )
    assert args["netG"] in imported.description
    assert list(imported.nets) == ["G"]
    with torch.no_grad():
        out = imported.nets["G"].eval()(*fixture_inputs(folder, entry))
    assert_matches(out, folder, entry["outputs"][0])


def test_importer_unwraps_data_parallel_and_compile_prefixes(manifest: dict[str, Any]) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, "junyanz_unet128_instance")
    wrapped = {f"module._orig_mod.{k}": v for k, v in load_state(folder, entry).items()}
    imported = JunyanzGeneratorImporter().load(wrapped)
    assert imported is not None
    with torch.no_grad():
        out = imported.nets["G"].eval()(*fixture_inputs(folder, entry))
    assert_matches(out, folder, entry["outputs"][0])


@pytest.mark.parametrize("fixture_id", DISCRIMINATORS)
def test_importer_rejects_reference_discriminators(
    manifest: dict[str, Any], fixture_id: str
) -> None:
    state = load_state(fixture_dir(), fixture_entry(manifest, fixture_id))
    assert detect_image_generator(state) is None
    assert JunyanzGeneratorImporter().load(state) is None


@pytest.mark.parametrize("fixture_id", ["esrgan_rrdbnet", "stargan_generator"])
def test_importer_rejects_other_families(manifest: dict[str, Any], fixture_id: str) -> None:
    state = load_state(fixture_dir(), fixture_entry(manifest, fixture_id))
    assert JunyanzGeneratorImporter().load(state) is None


# The tests below build their own small state dicts and need no fixture folder.


def _small_unet_state(norm: str = "instance") -> dict[str, Tensor]:
    return UnetGenerator(3, 3, num_downs=5, ngf=2, norm=norm).state_dict()


@pytest.mark.parametrize(
    "checkpoint",
    [
        None,
        [],
        "latest_net_G.pth",
        torch.zeros(3),
        {},
        {"weight": torch.zeros(8, 3, 3, 3), "bias": torch.zeros(8)},
        {"params": {"model.model.0.weight": torch.zeros(2, 3, 4, 4)}},
        {"state_dict": torch.zeros(1), "epoch": 3},
        {0: torch.zeros(1)},
    ],
    ids=repr,
)
def test_importer_returns_none_for_foreign_objects(checkpoint: Any) -> None:
    assert JunyanzGeneratorImporter().load(checkpoint) is None


def test_importer_rejects_incomplete_or_altered_generators() -> None:
    state = _small_unet_state()
    assert JunyanzGeneratorImporter().load(state) is not None

    missing = dict(state)
    missing.pop("model.model.3.bias")
    extra = {**state, "model.model.9.weight": torch.zeros(1)}
    reshaped = {**state, "model.model.1.model.5.weight": torch.zeros(4, 3, 4, 4)}
    for altered in (missing, extra, reshaped):
        assert detect_image_generator(altered) is None
    for altered in (missing, extra):
        assert JunyanzGeneratorImporter().load(altered) is None
    # The right names with a wrong shape is a damaged generator, not someone else's file.
    with pytest.raises(UserError, match=r"tensor model\.model\.1\.model\.5\.weight has shape"):
        JunyanzGeneratorImporter().load(reshaped)


def test_importer_declines_layouts_pix2pix_cannot_name() -> None:
    state = ResnetGenerator(3, 3, ngf=2, norm="instance", n_blocks=12).state_dict()
    settings = detect_image_generator(state)
    assert settings is not None and settings["netG"] == "resnet_12blocks"
    assert JunyanzGeneratorImporter().load(state) is None


@pytest.mark.parametrize(
    "netG",
    ["unet_32", "unet_64", "unet_128", "unet_256", "unet_512", "resnet_6blocks", "resnet_9blocks"],
)
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("dropout", [False, True])
def test_detect_round_trips_our_generators(netG: str, norm: str, dropout: bool) -> None:
    config = Pix2PixConfig(netG=netG, norm=norm, dropout=dropout, ngf=2, input_nc=1, output_nc=4)
    settings = detect_image_generator(build_generator(config).state_dict())
    assert settings == {
        "netG": netG,
        "ngf": 2,
        "norm": norm,
        "input_nc": 1,
        "output_nc": 4,
        "dropout": None if netG.startswith("unet") else dropout,
    }


def test_detect_reads_resnet_dropout_from_the_key_shift() -> None:
    with_dropout = ResnetGenerator(3, 3, ngf=2, norm="batch", dropout=True).state_dict()
    without = ResnetGenerator(3, 3, ngf=2, norm="batch", dropout=False).state_dict()
    assert "model.10.conv_block.6.weight" in with_dropout
    assert "model.10.conv_block.5.weight" in without
    assert detect_image_generator(with_dropout)["dropout"] is True
    assert detect_image_generator(without)["dropout"] is False


def test_detect_tolerates_missing_batch_norm_counters() -> None:
    """Files from PyTorch < 0.4.1 have no num_batches_tracked; load_state_dict accepts that."""
    state = {
        key: value
        for key, value in _small_unet_state("batch").items()
        if not key.endswith("num_batches_tracked")
    }
    assert detect_image_generator(state)["norm"] == "batch"
    imported = JunyanzGeneratorImporter().load(state)
    assert imported is not None
    assert imported.config.norm == "batch"
