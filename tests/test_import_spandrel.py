"""`imagexform import` of spandrel's architectures, from .pth and .safetensors, end to end
through ONNX Runtime; the importer contract (priority, detect, --explain); bad input."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from spandrel_nets import TINY_NETS, random_net, save_pth, save_safetensors

from imagexform.cli import cli
from imagexform.export.importing import explain_import
from imagexform.runtime import load_model
from imagexform.runtime.processing import pad_to

# every .pth wrapper is used by some architecture; safetensors files alternate the prefix
PTH_WRAPPERS = ("params_ema", "state_dict", "module", "")
TOLERANCE = 1e-4  # per unit of the [0, 1] range


def _import(source, out, *extra):
    result = CliRunner().invoke(cli, ["import", str(source), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _compare(onnx_path, net, multiple, pads_with_zeros):
    """ONNX Runtime against the network's own torch output at a size that is a multiple of
    the window and one that is not (padded and cropped by the runtime, as batch does)."""
    model = load_model(onnx_path, device="cpu")
    assert model.info.io.size_multiple == multiple
    generator = torch.Generator().manual_seed(1)
    for height, width in ((4 * 8, 4 * 12), (37, 29)):
        image = torch.rand(1, 3, height, width, generator=generator)
        padded_h = -(-height // multiple) * multiple
        padded_w = -(-width // multiple) * multiple
        pixels = pad_to(image[0].permute(1, 2, 0).numpy(), padded_h, padded_w)
        batch = np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])
        scale = model.info.io.scale
        actual = model.run(batch)[..., : height * scale, : width * scale]
        reference = image
        if pads_with_zeros:  # compare with the network on the runtime's (reflected) padding
            reference = torch.from_numpy(batch)
        with torch.inference_mode():
            expected = net(reference)[..., : height * scale, : width * scale].numpy()
        assert np.abs(actual - expected).max() <= TOLERANCE, (height, width)


@pytest.mark.parametrize("name", sorted(TINY_NETS))
def test_spandrel_architecture_imports_from_pth_and_safetensors(name, tmp_path):
    spec = TINY_NETS[name]
    net = random_net(name)
    index = sorted(TINY_NETS).index(name)
    pth = save_pth(net, tmp_path / f"{name}.pth", PTH_WRAPPERS[index % len(PTH_WRAPPERS)])
    safetensors = save_safetensors(
        net, tmp_path / f"{name}.safetensors", "module." if index % 2 else ""
    )
    # the TorchScript exporter keeps these tests to seconds; the dynamo-first default is
    # exercised below on Compact and SPAN
    for source in (pth, safetensors):
        out = tmp_path / f"{source.suffix[1:]}.onnx"
        printed = _import(source, out, "--exporter", "torchscript")
        assert "recognised by importer spandrel" in printed
        assert "torchscript exporter" in printed
        _compare(out, net, spec.multiple, spec.pads_with_zeros)


def test_default_export_tries_dynamo_first_and_records_the_exporter(tmp_path):
    net = random_net("Compact")
    out = tmp_path / "compact.onnx"
    printed = _import(save_pth(net, tmp_path / "compact.pth", "params_ema"), out)
    assert "exported with torch's dynamo exporter" in printed
    info = load_model(out, device="cpu").info
    assert info.provenance["exporter"] == "dynamo"
    assert info.provenance["importer"] == "spandrel"
    assert info.task == "super-resolution"
    assert info.architecture["name"] == "RealESRGAN Compact"
    assert info.architecture["parameters"] == sum(p.numel() for p in net.parameters())
    assert info.architecture["gflops_per_megapixel"] > 0
    _compare(out, net, 1, False)


@pytest.mark.slow  # a child process imports torch and runs the dynamo exporter
def test_dynamo_crash_on_span_falls_back_to_torchscript(tmp_path):
    """torch 2.14's dynamo exporter segfaults on SPAN; the CLI survives it in a child."""
    net = random_net("SPAN")
    out = tmp_path / "span.onnx"
    printed = _import(save_safetensors(net, tmp_path / "span.safetensors"), out)
    assert "exported with torch's torchscript exporter" in printed
    assert "dynamo exporter failed" in printed
    assert load_model(out, device="cpu").info.provenance["exporter"] == "torchscript"
    _compare(out, net, 1, False)


def test_rrdb_through_spandrel_gives_the_same_onnx_output_as_our_importer(tmp_path):
    from imagexform_sr.networks import RRDBNet

    torch.manual_seed(0)
    rrdb = RRDBNet(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=32)
    source = save_pth(rrdb, tmp_path / "rrdb.pth", "params_ema")
    ours, theirs = tmp_path / "ours.onnx", tmp_path / "spandrel.onnx"
    assert "importer basicsr" in _import(source, ours, "--exporter", "torchscript")
    assert "importer spandrel" in _import(
        source, theirs, "--exporter", "torchscript", "--importer", "spandrel"
    )
    image = np.random.default_rng(0).random((1, 3, 24, 40), dtype=np.float32)
    first = load_model(ours, device="cpu").run(image)
    second = load_model(theirs, device="cpu").run(image)
    assert np.abs(first - second).max() <= TOLERANCE


def test_explain_lists_every_importer_by_priority_and_the_choice(tmp_path):
    source = save_pth(random_net("SwinIR"), tmp_path / "swinir.pth", "params")
    verdicts = explain_import(source)
    priorities = [importer.priority for importer, _ in verdicts]
    assert priorities == sorted(priorities)
    assert [importer.name for importer, detected in verdicts if detected] == ["spandrel"]
    result = CliRunner().invoke(cli, ["import", str(source), "--explain"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(verdicts)
    assert any("spandrel" in line and "chosen" in line for line in lines)
    assert any("basicsr" in line and " no " in line for line in lines)


def test_models_info_shows_the_architecture_and_its_size(tmp_path):
    out = tmp_path / "nafnet.onnx"
    _import(
        save_pth(random_net("NAFNet"), tmp_path / "n.pth", ""), out, "--exporter", "torchscript"
    )
    result = CliRunner().invoke(cli, ["models", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "task:        restoration" in result.output
    assert "architecture: NAFNet" in result.output
    assert "parameters" in result.output and "GFLOPs per megapixel" in result.output
    assert "licence:" in result.output
    assert (
        json.loads(CliRunner().invoke(cli, ["models", "info", str(out), "--json"]).output)[
            "architecture"
        ]["gflops_per_megapixel"]
        > 0
    )


def _refused(source, tmp_path, *extra):
    out = tmp_path / "refused.onnx"
    result = CliRunner().invoke(cli, ["import", str(source), "-o", str(out), *extra])
    assert result.exit_code != 0
    assert not out.exists() and not list(tmp_path.glob(".refused.onnx*"))
    message = result.output.strip()
    assert message.startswith("error: ") and str(source) in message
    return message


def test_unknown_architecture_lists_the_detectors_and_first_keys(tmp_path):
    source = tmp_path / "mystery.pth"
    torch.save(
        {"encoder.stem.weight": torch.zeros(4, 3, 3, 3), "head.bias": torch.zeros(3)}, source
    )
    message = _refused(source, tmp_path)
    assert len(message.splitlines()) == 1
    assert "basicsr" in message and "spandrel" in message and "junyanz" in message
    assert "encoder.stem.weight" in message


@pytest.mark.parametrize("damage", ["missing", "shape"])
def test_known_architecture_with_a_bad_tensor_names_it(tmp_path, damage):
    state = random_net("Compact").state_dict()
    if damage == "missing":
        del state["body.2.weight"]
    else:
        state["body.2.weight"] = torch.zeros(8, 4, 3, 3)
    source = tmp_path / "compact.pth"
    torch.save(state, source)
    message = _refused(source, tmp_path)
    assert len(message.splitlines()) == 1 and "body.2.weight" in message


@pytest.mark.parametrize("damage", ["truncated", "offsets"])
def test_broken_safetensors_is_one_line(tmp_path, damage):
    source = save_safetensors(random_net("Compact"), tmp_path / "compact.safetensors")
    raw = source.read_bytes()
    if damage == "truncated":
        source.write_bytes(raw[:-100])
    else:
        length = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8 : 8 + length])
        header["body.0.weight"]["data_offsets"][1] += 4096
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        source.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length :])
    message = _refused(source, tmp_path)
    assert len(message.splitlines()) == 1 and ".safetensors" in message


@pytest.mark.slow  # a child process imports torch and runs the dynamo exporter
def test_export_failing_with_both_exporters_names_both_and_writes_nothing(tmp_path):
    from spandrel.architectures.RGT import RGT

    # this narrow an RGT leaves its position-bias layer norms zero wide: torch runs it, but
    # dynamo's file fixes the size and ONNX Runtime refuses the TorchScript file's norms
    torch.manual_seed(0)
    net = RGT(img_size=16, embed_dim=16, depth=[2], num_heads=[2], split_size=[4, 4], upscale=2)
    message = _refused(save_pth(net, tmp_path / "rgt.pth", "params"), tmp_path)
    lines = message.splitlines()
    assert len(lines) == 2
    assert "dynamo exporter failed" in lines[0] and "torchscript exporter failed" in lines[1]


def test_a_network_that_does_not_run_in_torch_is_one_line(tmp_path):
    from spandrel.architectures.DAT import DAT

    torch.manual_seed(0)  # embed_dim 12 leaves DAT a convolution with no output channels
    net = DAT(img_size=16, embed_dim=12, split_size=[2, 4], depth=[2], num_heads=[2], upscale=2)
    message = _refused(save_pth(net, tmp_path / "dat.pth", "params"), tmp_path)
    assert len(message.splitlines()) == 1 and "does not run in torch" in message


@pytest.mark.parametrize("suffix", [".pth", ".ckpt"])
def test_pickled_code_is_refused_without_running_it(tmp_path, suffix):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    source = tmp_path / f"evil{suffix}"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": Payload()}, source)
    message = _refused(source, tmp_path)
    assert "execute pickled code" in message
    assert not marker.exists()


def test_reference_padding_helper_matches_torch_reflect():
    """The comparison above pads with the runtime's own helper; where the pad is shorter than
    the image it is torch's (and SwinIR's) reflection."""
    image = torch.rand(1, 3, 9, 7)
    ours = pad_to(image[0].permute(1, 2, 0).numpy(), 12, 8).transpose(2, 0, 1)
    theirs = F.pad(image, (0, 1, 0, 3), mode="reflect")[0].numpy()
    assert np.array_equal(ours, theirs)


def test_half_precision_is_refused_where_spandrel_says_it_breaks(tmp_path):
    source = save_pth(random_net("SwinIR"), tmp_path / "swinir.pth", "params")
    message = _refused(source, tmp_path, "--fp16")
    assert "half precision" in message and len(message.splitlines()) == 1


def test_the_averaged_weights_are_preferred_and_wrappers_unwrap():
    from imagexform.convert.statedict import unwrap_state_dict

    ema, raw = {"conv.weight": torch.ones(1)}, {"conv.weight": torch.zeros(1)}
    state, entry = unwrap_state_dict({"params": raw, "params_ema": ema, "iter": 5})
    assert entry == "params_ema" and state["conv.weight"].item() == 1
    nested = {"state_dict": {"module.conv.weight": torch.ones(1)}, "epoch": 3}
    assert unwrap_state_dict(nested) == ({"conv.weight": torch.ones(1)}, "state_dict")
    assert unwrap_state_dict({"epoch": 3}) == ({}, "")
