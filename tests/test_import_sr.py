"""`imagexform import` on super-resolution checkpoints, end to end through ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnxruntime
import torch
from click.testing import CliRunner
from conformance import fixture_dir, fixture_entry, load_manifest, variant_entry

from imagexform.cli import cli
from imagexform_sr.networks import RRDBNet


def test_published_esrgan_layout_imports_and_matches_the_reference(tmp_path):
    folder = fixture_dir()
    main = fixture_entry(load_manifest(), "esrgan_rrdbnet")
    old_layout = variant_entry(main, "esrgan_rrdbnet_legacy_keys")  # pre-2019 published files
    out = tmp_path / "esrgan.onnx"
    result = CliRunner().invoke(
        cli, ["import", str(folder / old_layout["state_dict"]["file"]), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    image = np.load(folder / main["inputs"][0]["file"])
    expected = np.load(folder / main["outputs"][0]["file"])
    (output,) = session.run(None, {"image": image})
    tolerance = main["outputs"][0]["tolerance"]["max_abs_diff"] + 1e-4
    assert np.abs(output - expected).max() <= tolerance


def test_ambiguous_scale_asks_for_set_scale(tmp_path):
    # 4 input channels into 3 output: RGBA x4 or gray->RGB x2 have identical weights
    path = tmp_path / "ambiguous.pth"
    net = RRDBNet(num_in_ch=1, num_out_ch=3, scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    torch.save({"params_ema": net.state_dict()}, path)
    runner = CliRunner()
    refused = runner.invoke(cli, ["import", str(path), "-o", str(tmp_path / "a.onnx")])
    assert refused.exit_code == 2
    assert "ambiguous.pth" in refused.output and "--set scale=" in refused.output
    assert not (tmp_path / "a.onnx").exists()
    accepted = runner.invoke(
        cli, ["import", str(path), "-o", str(tmp_path / "b.onnx"), "--set", "scale=2"]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "×2" in accepted.output
