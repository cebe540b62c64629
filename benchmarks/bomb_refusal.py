"""What refusing a decompression bomb costs, at each level that refuses it.

A 20000×20000 PNG (400 megapixels, a few hundred KB on disk) must be refused from its header,
without decoding. Each figure is compared, in the same run, against decoding one ordinary
photo-sized PNG (3000×2000, 6 megapixels), which is what any real decode of the bomb would
cost at least 66 times over:

- ``probe``: :func:`probe_file` + :func:`check_pixels` on the bomb;
- ``pipeline``: the batch pipeline on the bomb and one small image, against the small image
  alone (the bomb should add next to nothing);
- ``command``: ``imagexform batch`` over the bomb alone, with an identity model, start to
  exit code (model load and report included).

Medians of interleaved repeats, seconds; ``ratio_*`` is the baseline over the figure.

Run: .venv/bin/python benchmarks/bomb_refusal.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import zlib
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from _medians import interleaved_medians
from click.testing import CliRunner
from onnx import TensorProto, helper, save

from imagexform.batch.discover import Source
from imagexform.batch.pipeline import Settings, Task, run_pipeline
from imagexform.cli import cli
from imagexform.errors import UserError
from imagexform.family import IOSpec, TileHints
from imagexform.io.probe import DEFAULT_MAX_PIXELS, check_pixels, probe_file
from imagexform.modelinfo import METADATA_KEY, ModelInfo

BOMB_SIDE = 20000


def bomb_png(side: int) -> bytes:
    """A valid 1-bit grey PNG: blank rows compress to almost nothing."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def identity_model(path: Path) -> Path:
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["output"])], "id", [image], [output]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    info = ModelInfo(family="test", io=IOSpec(value_range=(0.0, 1.0)), tile=TileHints())
    helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    save(model, str(path))
    return path


class Invert:
    """The least a model can do, so the pipeline's own cost shows."""

    def transform(self, image: np.ndarray, conditions=None, **_: object) -> np.ndarray:
        return 255 - image


def refuse(path: Path) -> None:
    try:
        check_pixels(probe_file(path), DEFAULT_MAX_PIXELS, path)
    except UserError:
        return
    raise AssertionError(f"{path} was not refused")


def pipeline(paths: list[Path], out: Path) -> None:
    tasks = [Task(Source(path, PurePosixPath(path.name)), out / path.name) for path in paths]
    run_pipeline(tasks, Invert(), Settings(jobs=1), lambda result: None)


def command(bomb: Path, model: Path, out: Path) -> None:
    args = ["batch", str(bomb), str(out), "--model", str(model), "--overwrite"]
    result = CliRunner().invoke(cli, args)
    assert "20000×20000" in result.output, result.output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bomb = work / "bomb.png"
        bomb.write_bytes(bomb_png(BOMB_SIDE))
        photo = work / "photo.png"
        pixels = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), np.uint8)
        cv2.imwrite(str(photo), pixels)
        small = work / "small.png"
        cv2.imwrite(str(small), pixels[:64, :64])
        model = identity_model(work / "identity.onnx")
        times = interleaved_medians(
            {
                "decode_photo": lambda: cv2.imread(str(photo), cv2.IMREAD_UNCHANGED),
                "probe": lambda: refuse(bomb),
                "pipeline_small": lambda: pipeline([small], work / "a"),
                "pipeline_bomb_and_small": lambda: pipeline([bomb, small], work / "b"),
                "command": lambda: command(bomb, model, work / "c"),
            },
            repeats,
        )
    baseline = times["decode_photo"]
    report = {
        "benchmark": "bomb_refusal",
        "repeats": repeats,
        "bomb_megapixels": BOMB_SIDE**2 / 1e6,
        "bomb_bytes": len(bomb_png(BOMB_SIDE)),
        **{f"{name}_s": round(value, 5) for name, value in times.items()},
        "ratio_decode_photo_over_probe": round(baseline / times["probe"], 1),
        "ratio_decode_photo_over_pipeline_bomb_extra": round(
            baseline / max(times["pipeline_bomb_and_small"] - times["pipeline_small"], 1e-6), 1
        ),
        "ratio_decode_photo_over_command": round(baseline / times["command"], 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
