"""ESRGAN, Real-ESRGAN and BasicSR checkpoints load into our SR networks and reproduce the
reference, and the importers recover their settings from the files alone.

Fixtures: ``shared/conformance`` (see its README). Our generators use BasicSR's names, so the
xinntao/ESRGAN files additionally go through ``esrgan_new_to_basicsr``, which the manifest
documents as giving bit-identical output.
"""

from __future__ import annotations

import subprocess
import sys
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
    load_manifest,
    load_state,
    run_fixture,
    variant_entry,
)
from torch import Tensor, nn

import imagexform_sr
from imagexform.errors import ConfigError, UserError
from imagexform_sr.config import SRConfig
from imagexform_sr.importer import (
    BasicSRImporter,
    ESRGANImporter,
    basicsr_unwrap,
    esrgan_new_to_basicsr,
    esrgan_old_to_new,
    importers,
    infer_rrdbnet_scale,
)
from imagexform_sr.networks import (
    MSRResNet,
    RRDBNet,
    VGGStyleDiscriminator,
    build_discriminator,
    build_generator,
)

GENERATORS = ["esrgan_rrdbnet", "basicsr_rrdbnet_x4", "basicsr_rrdbnet_x2", "basicsr_msrresnet_x4"]
DISCRIMINATORS = ["basicsr_vgg_discriminator"]
VARIANTS = [
    ("esrgan_rrdbnet", "esrgan_rrdbnet_legacy_keys"),
    ("basicsr_rrdbnet_x2", "basicsr_rrdbnet_x2_params_ema"),
]
# (main fixture, variant or None): a variant's weights must give its main fixture's outputs.
CASES = [(fixture_id, None) for fixture_id in GENERATORS + DISCRIMINATORS] + VARIANTS
GENERATOR_CASES = [(fixture_id, None) for fixture_id in GENERATORS] + VARIANTS
IMPORTERS = {"esrgan": ESRGANImporter, "basicsr": BasicSRImporter}


REMAPS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "none": dict,
    "esrgan_old_to_new": esrgan_old_to_new,
    "basicsr_unwrap": basicsr_unwrap,
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_manifest()


def _source(entry: dict[str, Any]) -> str:
    return entry["id"].split("_", 1)[0]


def _to_ours(entry: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """ESRGAN's names are renamed to BasicSR's, which our RRDBNet uses."""
    return esrgan_new_to_basicsr(state) if _source(entry) == "esrgan" else dict(state)


def _expected_config(entry: dict[str, Any]) -> dict[str, Any]:
    """The SRConfig fields that describe the reference constructor call in the manifest."""
    args = entry["class_args"]
    if entry["builder"] == "esrgan.RRDBNet":
        return {
            "arch": "rrdbnet",
            "scale": 4,
            "num_in_ch": args["in_nc"],
            "num_out_ch": args["out_nc"],
            "num_feat": args["nf"],
            "num_block": args["nb"],
            "num_grow_ch": args["gc"],
        }
    config = {key: args[key] for key in ("num_in_ch", "num_out_ch", "num_feat", "num_block")}
    if entry["builder_args"]["type"] == "RRDBNet":
        config.update(arch="rrdbnet", scale=args["scale"], num_grow_ch=args["num_grow_ch"])
    else:
        assert entry["builder_args"]["type"] == "MSRResNet"
        config.update(arch="srresnet", scale=args["upscale"])
    return config


def _build(entry: dict[str, Any]) -> nn.Module:
    """Our network for the reference constructor call, made directly from its class."""
    args = entry["class_args"]
    if entry["builder"] == "esrgan.RRDBNet":
        return RRDBNet(args["in_nc"], args["out_nc"], 4, args["nf"], args["nb"], args["gc"])
    classes = {
        "RRDBNet": RRDBNet,
        "MSRResNet": MSRResNet,
        "VGGStyleDiscriminator": VGGStyleDiscriminator,
    }
    return classes[entry["builder_args"]["type"]](**args)


def _manifest_layout(entry: dict[str, Any]) -> list[tuple[str, list[int]]]:
    return [(key, shape) for key, shape, _dtype in entry["state_dict"]["keys"]]


def test_every_sr_fixture_is_covered(manifest: dict[str, Any]) -> None:
    sr = [e for e in manifest["fixtures"] if e["id"].startswith(("esrgan", "basicsr"))]
    assert {entry["id"] for entry in sr} == set(GENERATORS + DISCRIMINATORS)
    assert {(entry["id"], v["id"]) for entry in sr for v in entry["variants"]} == set(VARIANTS)


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
    net = _build(entry)
    state = _to_ours(entry, REMAPS[spec["remap"]](load_state(folder, spec)))
    net.load_state_dict(state, strict=True)

    reference = dict(_manifest_layout(entry))
    ours = [(key, list(tensor.shape)) for key, tensor in net.state_dict().items()]
    assert ours == list(_to_ours(entry, reference).items())
    assert_matches(run_fixture(net, folder, entry), folder, entry["outputs"][0])


def test_old_esrgan_layout_maps_onto_the_current_one(manifest: dict[str, Any]) -> None:
    """The remap alone, key by key: same names in the same order, and the same tensors."""
    folder = fixture_dir()
    entry = fixture_entry(manifest, "esrgan_rrdbnet")
    legacy = load_state(folder, variant_entry(entry, "esrgan_rrdbnet_legacy_keys"))
    current = load_state(folder, entry)

    mapped = esrgan_old_to_new(legacy)

    assert [(k, list(v.shape)) for k, v in mapped.items()] == _manifest_layout(entry)
    assert all(torch.equal(mapped[key], current[key]) for key in current)


def test_module_prefix_is_stripped_before_the_old_layout_is_mapped(
    manifest: dict[str, Any],
) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, "esrgan_rrdbnet")
    legacy = load_state(folder, variant_entry(entry, "esrgan_rrdbnet_legacy_keys"))
    wrapped = {f"module.{key}": value for key, value in legacy.items()}
    assert list(esrgan_old_to_new(wrapped)) == [key for key, _ in _manifest_layout(entry)]


def test_esrgan_names_are_basicsr_names_renamed(manifest: dict[str, Any]) -> None:
    """esrgan_rrdbnet and basicsr_rrdbnet_x4 have one config: one layout, two namings."""
    esrgan = dict(_manifest_layout(fixture_entry(manifest, "esrgan_rrdbnet")))
    basicsr = _manifest_layout(fixture_entry(manifest, "basicsr_rrdbnet_x4"))
    assert list(esrgan_new_to_basicsr(esrgan).items()) == basicsr


def test_params_ema_container_holds_the_bare_weights(manifest: dict[str, Any]) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, "basicsr_rrdbnet_x2")
    bare = load_state(folder, entry)
    unwrapped = basicsr_unwrap(load_state(folder, variant_entry(entry, VARIANTS[1][1])))
    assert list(unwrapped) == list(bare)
    assert all(torch.equal(unwrapped[key], bare[key]) for key in bare)


def test_config_builders_load_the_reference_files(manifest: dict[str, Any]) -> None:
    """What training builds from an SRConfig is the reference layout, G and D alike."""
    folder = fixture_dir()
    for fixture_id in GENERATORS:
        entry = fixture_entry(manifest, fixture_id)
        generator = build_generator(SRConfig(**_expected_config(entry)))
        generator.load_state_dict(_to_ours(entry, load_state(folder, entry)), strict=True)
        assert_matches(run_fixture(generator, folder, entry), folder, entry["outputs"][0])

    entry = fixture_entry(manifest, "basicsr_vgg_discriminator")
    args = entry["class_args"]
    discriminator = build_discriminator(
        SRConfig(num_out_ch=args["num_in_ch"], num_feat_D=args["num_feat"], image_size=128)
    )
    discriminator.load_state_dict(load_state(folder, entry), strict=True)
    assert_matches(run_fixture(discriminator, folder, entry), folder, entry["outputs"][0])


@pytest.mark.parametrize("case", GENERATOR_CASES, ids=case_id)
def test_importer_recovers_settings_and_reproduces_output(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    folder, entry, spec = case_spec(manifest, case)
    checkpoint = load_state(folder, spec)

    imported = IMPORTERS[_source(entry)]().load(checkpoint)

    assert imported is not None
    assert imported.family == "sr"
    assert isinstance(imported.config, SRConfig)
    expected = _expected_config(entry)
    assert {key: getattr(imported.config, key) for key in expected} == expected
    assert f"×{expected['scale']}" in imported.description
    assert ("'params_ema'" in imported.description) == (case[1] == VARIANTS[1][1])
    assert list(imported.nets) == ["G"]
    assert_matches(run_fixture(imported.nets["G"], folder, entry), folder, entry["outputs"][0])


@pytest.mark.parametrize("case", GENERATOR_CASES, ids=case_id)
def test_the_other_importer_declines(
    manifest: dict[str, Any], case: tuple[str, str | None]
) -> None:
    folder, entry, spec = case_spec(manifest, case)
    other = BasicSRImporter if _source(entry) == "esrgan" else ESRGANImporter
    assert other().load(load_state(folder, spec)) is None


def test_importers_decline_other_reference_files(manifest: dict[str, Any]) -> None:
    """Every non-generator fixture (discriminators, other families, their variants)."""
    folder = fixture_dir()
    generator_files = {"esrgan_rrdbnet", "basicsr_rrdbnet_x4", "basicsr_rrdbnet_x2"}
    generator_files |= {"basicsr_msrresnet_x4"} | {variant for _, variant in VARIANTS}
    checked = 0
    for entry in manifest["fixtures"]:
        for spec in [entry, *entry["variants"]]:
            if spec["id"] in generator_files:
                continue
            checkpoint = load_state(folder, spec)
            for importer in IMPORTERS.values():
                assert importer().load(checkpoint) is None, spec["id"]
            checked += 1
    assert checked >= 14


def test_importer_prefers_params_ema_over_params(manifest: dict[str, Any]) -> None:
    folder = fixture_dir()
    entry = fixture_entry(manifest, "basicsr_rrdbnet_x2")
    real = load_state(folder, entry)
    stale = {key: torch.zeros_like(value) for key, value in real.items()}

    imported = BasicSRImporter().load({"params": stale, "params_ema": real})
    assert imported is not None
    assert "'params_ema'" in imported.description
    assert_matches(run_fixture(imported.nets["G"], folder, entry), folder, entry["outputs"][0])

    only_params = BasicSRImporter().load({"params": {f"module.{k}": v for k, v in real.items()}})
    assert only_params is not None
    assert "'params'" in only_params.description
    assert_matches(run_fixture(only_params.nets["G"], folder, entry), folder, entry["outputs"][0])


def test_importer_converts_half_precision_files(manifest: dict[str, Any]) -> None:
    """Community ESRGAN models are often saved in fp16; training and export need fp32."""
    folder = fixture_dir()
    entry = fixture_entry(manifest, "esrgan_rrdbnet")
    half = {key: value.half() for key, value in load_state(folder, entry).items()}
    imported = ESRGANImporter().load(half)
    assert imported is not None
    assert {p.dtype for p in imported.nets["G"].parameters()} == {torch.float32}


# The tests below build their own small state dicts and need no fixture folder.


def _tiny_rrdbnet(**kwargs: int) -> RRDBNet:
    settings = {"num_feat": 4, "num_block": 2, "num_grow_ch": 2} | kwargs
    return RRDBNet(**settings)


_ESRGAN_NAMES = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2"}
_ESRGAN_NAMES["conv_hr"] = "HRconv"


def _esrgan_names(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A BasicSR RRDBNet state dict under xinntao/ESRGAN's current names."""
    renamed = {}
    for key, value in state.items():
        module, _, rest = key.partition(".")
        if module == "body":
            block, rdb, rest = rest.split(".", 2)
            key = f"RRDB_trunk.{block}.{rdb.upper()}.{rest}"
        else:
            key = f"{_ESRGAN_NAMES.get(module, module)}.{rest}"
        renamed[key] = value
    return renamed


@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_importer_round_trips_rrdbnet(scale: int, channels: int) -> None:
    net = _tiny_rrdbnet(num_in_ch=channels, num_out_ch=channels, scale=scale, num_block=3)
    imported = BasicSRImporter().load(net.state_dict())
    assert imported is not None
    config = imported.config
    assert (config.arch, config.scale, config.num_in_ch, config.num_out_ch) == (
        "rrdbnet",
        scale,
        channels,
        channels,
    )
    assert (config.num_feat, config.num_block, config.num_grow_ch) == (4, 3, 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize(("num_in_ch", "num_out_ch"), [(3, 3), (1, 3)])
def test_importer_round_trips_msrresnet(scale: int, num_in_ch: int, num_out_ch: int) -> None:
    net = MSRResNet(num_in_ch, num_out_ch, num_feat=4, num_block=3, upscale=scale)
    imported = BasicSRImporter().load(net.state_dict())
    assert imported is not None
    config = imported.config
    assert (config.arch, config.scale, config.num_feat, config.num_block) == (
        "srresnet",
        scale,
        4,
        3,
    )
    assert (config.num_in_ch, config.num_out_ch) == (num_in_ch, num_out_ch)


@pytest.mark.parametrize(
    ("first_conv_in", "out_channels", "scale"),
    [(3, 3, 4), (12, 3, 2), (48, 3, 1), (3, 1, 4), (4, 4, 4), (4, 1, 2), (16, 1, 1), (4, 3, None)],
)
def test_infer_rrdbnet_scale(first_conv_in: int, out_channels: int, scale: int | None) -> None:
    assert infer_rrdbnet_scale(first_conv_in, out_channels) == scale


def test_ambiguous_rrdbnet_scale_asks_for_it() -> None:
    """Grayscale in, RGB out at ×2 has the same keys and shapes as 4 channels in at ×4: the
    file cannot tell, so the user must, and either answer gives a working network."""
    net = _tiny_rrdbnet(num_in_ch=1, num_out_ch=3, scale=2).eval()
    state = net.state_dict()
    assert tuple(state["conv_first.weight"].shape[:2]) == (4, 4)

    with pytest.raises(UserError, match=r"cannot infer the scale .*--set scale=N"):
        BasicSRImporter().load(state)

    imported = BasicSRImporter().load(state, overrides={"scale": "2"})
    assert imported is not None
    assert (imported.config.scale, imported.config.num_in_ch) == (2, 1)
    x = torch.rand(1, 1, 8, 12)
    with torch.no_grad():
        assert torch.equal(imported.nets["G"].eval()(x), net(x))

    as_x4 = BasicSRImporter().load(state, overrides={"scale": "4"})
    assert as_x4 is not None
    assert (as_x4.config.scale, as_x4.config.num_in_ch) == (4, 4)


def test_ambiguous_scale_in_esrgan_naming_asks_too() -> None:
    renamed = _esrgan_names(_tiny_rrdbnet(num_in_ch=1, num_out_ch=3, scale=2).state_dict())
    assert "RRDB_trunk.1.RDB3.conv5.bias" in renamed
    with pytest.raises(UserError, match="cannot infer the scale"):
        ESRGANImporter().load(renamed)
    imported = ESRGANImporter().load(renamed, overrides={"scale": "2"})
    assert imported is not None
    assert imported.config.num_in_ch == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"scale": "1"}, "scale 1 does not fit this RRDBNet checkpoint"),
        ({"scale": "3"}, "not 3"),
        ({"num_feat": "8"}, "--set num_feat=8 does not fit"),
        ({"arch": "srresnet"}, "--set arch=srresnet does not fit"),
    ],
)
def test_overrides_that_contradict_the_file_are_refused(
    overrides: dict[str, str], message: str
) -> None:
    state = _tiny_rrdbnet(scale=2).state_dict()
    with pytest.raises(UserError, match=message):
        BasicSRImporter().load(state, overrides=overrides)


def test_overrides_apply_to_the_imported_config() -> None:
    state = _tiny_rrdbnet().state_dict()
    imported = BasicSRImporter().load(state, overrides={"steps": "50", "scale": "4"})
    assert imported is not None
    assert (imported.config.steps, imported.config.scale) == (50, 4)
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        BasicSRImporter().load(state, overrides={"colour": "red"})


def _old_esrgan_state(upsample_stages: int, num_block: int = 2) -> dict[str, Tensor]:
    """A pre-2019 ESRGAN file with ``upsample_stages`` nearest+conv stages: index 3k holds
    stage k's conv (Upsample and LeakyReLU have no keys), then the HR and last convs."""
    new = _tiny_rrdbnet(num_block=num_block).state_dict()
    state: dict[str, Tensor] = {"model.0.weight": new["conv_first.weight"]}
    state["model.0.bias"] = new["conv_first.bias"]
    for key, value in new.items():
        if key.startswith("body."):
            _, block, rdb, conv, param = key.split(".")
            state[f"model.1.sub.{block}.RDB{rdb[-1]}.{conv}.0.{param}"] = value
    stages = [new["conv_up1.weight"]] * upsample_stages
    layers = [*stages, new["conv_hr.weight"], new["conv_last.weight"]]
    indices = [3 * (k + 1) for k in range(upsample_stages)]
    indices += [indices[-1] + 2, indices[-1] + 4]
    state.update({f"model.1.sub.{num_block}.weight": new["conv_body.weight"]})
    state.update({f"model.1.sub.{num_block}.bias": new["conv_body.bias"]})
    for index, weight in zip(indices, layers, strict=True):
        state[f"model.{index}.weight"] = weight
        state[f"model.{index}.bias"] = torch.zeros(weight.shape[0])
    return state


def test_old_esrgan_x4_layout_of_the_helper_imports() -> None:
    imported = ESRGANImporter().load(_old_esrgan_state(upsample_stages=2, num_block=3))
    assert imported is not None
    assert (imported.config.scale, imported.config.num_block) == (4, 3)


@pytest.mark.parametrize("upsample_stages", [1, 3])
def test_old_esrgan_x2_x3_and_x8_files_are_not_taken_for_x4(upsample_stages: int) -> None:
    """Old-layout ×2/×3 (one stage) and ×8 (three) files exist; BasicSR's RRDBNet cannot
    hold them, so they must be declined rather than loaded as ×4 with layers missing."""
    assert ESRGANImporter().load(_old_esrgan_state(upsample_stages)) is None


def test_importer_rejects_incomplete_or_altered_generators() -> None:
    state = _tiny_rrdbnet().state_dict()
    assert BasicSRImporter().load(state) is not None

    missing = {k: v for k, v in state.items() if k != "conv_hr.bias"}
    extra = {**state, "conv_up3.weight": torch.zeros(4, 4, 3, 3)}
    reshaped = {**state, "body.1.rdb2.conv3.weight": torch.zeros(2, 9, 3, 3)}
    gap = {k.replace("body.1.", "body.2."): v for k, v in state.items()}
    for altered in (missing, extra, reshaped, gap):
        assert BasicSRImporter().load(altered) is None


def test_esrgan_file_with_both_namings_is_declined() -> None:
    """``trunk_conv`` and ``conv_body`` would both become ``conv_body``: one would be lost."""
    state = _esrgan_names(_tiny_rrdbnet().state_dict())
    assert ESRGANImporter().load(state) is not None
    state["conv_body.weight"] = state["trunk_conv.weight"]
    assert ESRGANImporter().load(state) is None


@pytest.mark.parametrize(
    "checkpoint",
    [
        None,
        [],
        "RealESRGAN_x4plus.pth",
        torch.zeros(3),
        {},
        {"params_ema": {}},
        {"params": "weights"},
        {0: torch.zeros(1)},
        {"conv_first.weight": torch.zeros(8, 3, 3, 3), "conv_first.bias": torch.zeros(8)},
        {"params": {"conv_first.weight": [1, 2]}},
        {"state_dict": torch.zeros(1), "epoch": 3},
    ],
    ids=repr,
)
def test_importers_return_none_for_foreign_objects(checkpoint: Any) -> None:
    for importer in IMPORTERS.values():
        assert importer().load(checkpoint) is None


def test_random_tensor_dicts_are_declined() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        state = {f"layer{i}.weight": torch.rand(4, 4, 3, 3, generator=generator) for i in range(6)}
        for importer in IMPORTERS.values():
            assert importer().load(state) is None


def test_family_offers_its_importers_with_spandrel_last() -> None:
    found = importers()
    assert sorted(type(importer).__name__ for importer in found) == [
        "BasicSRImporter",
        "ESRGANImporter",
        "SpandrelImporter",
    ]
    spandrel = next(i for i in found if i.name == "spandrel")
    assert all(i.priority < spandrel.priority for i in found if i is not spandrel)


def test_importer_module_is_torch_free_at_import() -> None:
    """The host imports importers to list them, on machines that may lack torch."""
    plugins = Path(imagexform_sr.__file__).resolve().parents[1]
    code = (
        f"import sys; sys.path.insert(0, {str(plugins)!r}); import imagexform_sr.importer; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
