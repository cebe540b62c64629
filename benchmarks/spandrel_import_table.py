"""The closing table of issue 17: spandrel architectures through ``imagexform import``.

For each architecture a SMALL network (spandrel's own class, reduced widths and depths so the
whole table runs in minutes on two cores; random weights) is saved as a .pth, imported with
the default exporter order (dynamo in a child process, then TorchScript), and timed on the
same 256×256 input in ONNX Runtime and in torch eager fp32 (median of ``--repeats``, after one
warm-up run each). Prints one JSON object per architecture, then the table as Markdown.

    PYTHONPATH=$PWD:$PWD/plugins python benchmarks/spandrel_import_table.py [--only SwinIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from imagexform.errors import UserError
from imagexform.export.importing import explain_import, import_foreign

EDGE = 256


def _small_nets() -> dict[str, Callable[[], nn.Module]]:
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.NAFNet import NAFNet
    from spandrel.architectures.OmniSR import OmniSR
    from spandrel.architectures.PLKSR import RealPLKSR
    from spandrel.architectures.RGT import RGT
    from spandrel.architectures.SCUNet import SCUNet
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.Swin2SR import Swin2SR
    from spandrel.architectures.SwinIR import SwinIR

    swin = {"img_size": 64, "embed_dim": 24, "depths": [2, 2], "num_heads": [2, 2]}
    return {
        "Compact": lambda: Compact(num_feat=64, num_conv=16, upscale=4),  # animevideov3's size
        "SPAN": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=48, upscale=4),
        "SwinIR": lambda: SwinIR(**swin, window_size=8, upscale=4, upsampler="pixelshuffle"),
        "Swin2SR": lambda: Swin2SR(**swin, window_size=8, upscale=4, upsampler="pixelshuffle"),
        "HAT": lambda: HAT(
            **swin, window_size=8, upscale=4, num_feat=32, compress_ratio=3, squeeze_factor=8
        ),
        "DAT": lambda: DAT(
            img_size=64, embed_dim=48, depth=[2, 2], num_heads=[2, 2], split_size=[8, 16], upscale=4
        ),
        "RGT": lambda: RGT(
            img_size=64, embed_dim=48, depth=[2, 2], num_heads=[2, 2], split_size=[8, 16], upscale=4
        ),
        "RealPLKSR": lambda: RealPLKSR(dim=32, n_blocks=6, upscaling_factor=4),
        "OmniSR": lambda: OmniSR(num_feat=32, block_num=1, window_size=8, res_num=2, up_scale=4),
        "SCUNet": lambda: SCUNet(config=[1, 1, 1, 1, 1, 1, 1], dim=64),
        "NAFNet": lambda: NAFNet(
            width=16, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1]
        ),
    }


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(name: str, net: nn.Module, folder: Path, repeats: int) -> dict[str, object]:
    import onnxruntime as ort

    source = folder / f"{name}.pth"
    torch.save({"params": net.state_dict()}, source)
    detected = any(ok for importer, ok in explain_import(source) if importer.name == "spandrel")
    row: dict[str, object] = {"architecture": name, "detected": detected}
    try:
        report = import_foreign(source, folder / f"{name}.onnx")
    except UserError as exc:
        return {**row, "exporter": "none", "parity": "failed", "error": str(exc)}
    info = report.info
    image = torch.rand(1, 3, EDGE, EDGE)
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: image.numpy()}
    net = net.eval()
    with torch.inference_mode():
        torch_s = _median_seconds(lambda: net(image), repeats)
        expected = net(image).numpy()
    ort_s = _median_seconds(lambda: session.run(None, feeds), repeats)
    (actual,) = session.run(None, feeds)
    needs = info.architecture.get("size_requirements", {})
    return {
        **row,
        "exporter": report.exporter,
        "exporter_failures": list(report.exporter_failures),
        "parity": max(r.max_abs for r in report.parity),
        "max_abs_256": float(np.abs(actual - expected).max()),
        "parameters": info.architecture.get("parameters"),
        "gflops_per_megapixel": info.architecture.get("gflops_per_megapixel"),
        "torch_eager_s": round(torch_s, 4),
        "onnxruntime_s": round(ort_s, 4),
        "ort_vs_torch_speedup": round(torch_s / ort_s, 2),
        "size_multiple": info.io.size_multiple,
        "minimum": needs.get("minimum", 0),
    }


def _markdown(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "| architecture | detected | exporter | parity (max abs) | ORT speed-up vs torch, 256² "
        "| size requirement |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["exporter"] == "none":
            lines.append(
                f"| {row['architecture']} | {'y' if row['detected'] else 'n'} | none: "
                f"{str(row['error']).split(': ', 1)[-1]} | — | — | — |"
            )
            continue
        size = f"multiple of {row['size_multiple']}, min {row['minimum']}"
        lines.append(
            f"| {row['architecture']} | {'y' if row['detected'] else 'n'} | {row['exporter']} "
            f"| {row['parity']:.2g} | {row['ort_vs_torch_speedup']}× | {size} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="architectures to run (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    nets = _small_nets()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only or list(nets):
            rows.append(_row(name, nets[name](), Path(folder), args.repeats))
            print(json.dumps(rows[-1]), flush=True)
    print("\n".join(_markdown(rows)))


if __name__ == "__main__":
    main()
