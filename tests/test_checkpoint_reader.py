"""The torch-free checkpoint reader gives what ``torch.load(weights_only=True)`` gives, as numpy
arrays, and refuses anything else in one line without running it (issue 18). Torch is used
here only to write the files and to load the reference."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from conformance import DEFAULT_DIR, ENV_VAR
from safetensors.torch import load_file, save_file

from imagexform.convert.checkpoint import LEGACY_MAGIC, LEGACY_PROTOCOL, read_checkpoint
from imagexform.errors import UserError

CONFORMANCE = Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)
SERIALIZATIONS = pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])


def sample_state() -> dict:
    """Every dtype a published state dict holds, views sharing a storage, a parameter, a real
    network's state dict nested as BasicSR nests it, and a few plain containers."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    net(torch.randn(2, 3, 8, 8))
    base = torch.randn(6, 5)
    return {
        "params_ema": net.state_dict(),
        "half": torch.randn(3, 4).half(),
        "bfloat16": torch.randn(3, 4).bfloat16(),
        "bfloat16_transposed": torch.randn(4, 3).bfloat16().T,
        "double": torch.randn(2, 2).double(),
        "integers": [torch.arange(-3, 3, dtype=t) for t in (torch.int8, torch.int16, torch.int32)],
        "bytes": torch.arange(250, 256, dtype=torch.uint8),
        "step": torch.tensor(7),
        "mask": torch.tensor([True, False, True]),
        "base": base,
        "transposed": base.T,
        "slice": base[2:4, 1:3],
        "parameter": torch.nn.Parameter(torch.randn(2, 2)),
        "empty": torch.zeros(0, 3),
        "nested": (torch.ones(2), {"scale": 4, "name": "x4"}),
    }


def save(obj: object, path: Path, zipped: bool) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=zipped)
    return path


def assert_same(read: object, expected: object) -> None:
    """Same structure, key order, dtypes, shapes and values as torch's object."""
    if isinstance(expected, torch.Tensor):
        tensor = expected.detach()
        wanted = (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
        assert isinstance(read, np.ndarray) and read.flags.c_contiguous
        assert (read.dtype, read.shape) == (wanted.dtype, wanted.shape)
        np.testing.assert_array_equal(read, wanted)
    elif isinstance(expected, dict):
        assert type(read) is type(expected) and list(read) == list(expected)
        for key, value in expected.items():
            assert_same(read[key], value)
    elif isinstance(expected, list | tuple):
        assert type(read) is type(expected) and len(read) == len(expected)
        for item, value in zip(read, expected, strict=True):
            assert_same(item, value)
    else:
        assert read == expected


@SERIALIZATIONS
def test_reads_what_torch_loads(tmp_path, zipped):
    path = save(sample_state(), tmp_path / "state.pth", zipped)
    read = read_checkpoint(path)
    assert_same(read, torch.load(path, weights_only=True))
    assert read["bfloat16"].dtype == np.float32 and read["half"].dtype == np.float16
    assert (
        read["params_ema"]._metadata == torch.load(path, weights_only=True)["params_ema"]._metadata
    )


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CONFORMANCE.glob("*.pth")) if CONFORMANCE.is_dir() else []
)
@SERIALIZATIONS
def test_reads_the_conformance_fixtures(tmp_path, name, zipped):
    expected = torch.load(CONFORMANCE / name, weights_only=True)
    path = CONFORMANCE / name if zipped else save(expected, tmp_path / name, zipped=False)
    assert_same(read_checkpoint(path), expected)


def test_the_conformance_fixtures_are_there():
    if not CONFORMANCE.is_dir():
        pytest.skip(f"{CONFORMANCE} is absent: the fixture tests above have nothing to read")
    assert list(CONFORMANCE.glob("*.pth"))


def test_reads_safetensors(tmp_path):
    torch.manual_seed(0)
    tensors = {
        "conv.weight": torch.randn(4, 3, 3, 3),
        "conv.bias": torch.randn(4).half(),
        "scale": torch.randn(5).bfloat16(),
        "steps": torch.tensor(3),
        "mask": torch.tensor([True, False]),
        "codes": torch.arange(4, dtype=torch.uint8),
        "empty": torch.zeros(0, 2),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    read = read_checkpoint(path)
    expected = load_file(path)
    assert sorted(read) == sorted(expected)
    for key, value in expected.items():
        assert_same(read[key], value)


class CreatesAFile:
    """What a malicious checkpoint hides: run when unpickled, it opens (creates) a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


@SERIALIZATIONS
def test_refuses_a_global_outside_the_allow_list_without_running_it(tmp_path, zipped):
    target = tmp_path / "created"
    state = {"weight": torch.ones(2), "payload": CreatesAFile(target)}
    path = save(state, tmp_path / "evil.pth", zipped)
    with pytest.raises(UserError, match=r"refuses to unpickle io\.open") as raised:
        read_checkpoint(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
    assert not target.exists()
    torch.load(path, weights_only=False)
    assert target.exists(), "the payload is live: torch's unsafe load runs it"


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from imagexform.convert.checkpoint import read_checkpoint
    sizes = [len(read_checkpoint(Path(name))) for name in sys.argv[1:]]
    print(json.dumps([sizes, sorted({"torch", "safetensors"} & set(sys.modules))]))
    """
)


def test_reading_imports_neither_torch_nor_safetensors(tmp_path):
    state = {"weight": torch.ones(2, 2), "bias": torch.zeros(2).bfloat16()}
    paths = [save(state, tmp_path / "zip.pth", True), save(state, tmp_path / "old.pth", False)]
    save_file(state, tmp_path / "st.safetensors")
    names = [str(p) for p in [*paths, tmp_path / "st.safetensors"]]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *names], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == [[2, 2, 2], []]


class HandmadeStorage:
    """Pickled by its persistent id, as torch pickles a storage."""

    def __init__(self, record: tuple) -> None:
        self.record = record


class HandmadeTensor:
    """Reduced as torch reduces a tensor; with ``state``, the pickle also sets its state."""

    def __init__(self, storage: HandmadeStorage, offset: int, size: int, state=None) -> None:
        self.storage, self.offset, self.size, self.state = storage, offset, size, state

    def __reduce__(self):
        rebuild = torch._utils._rebuild_tensor_v2
        args = (self.storage, self.offset, (self.size,), (1,), False, OrderedDict())
        return (rebuild, args) if self.state is None else (rebuild, args, self.state)


def handmade_pickle(obj: object) -> bytes:
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=2)
    pickler.persistent_id = lambda o: o.record if isinstance(o, HandmadeStorage) else None
    pickler.dump(obj)
    return stream.getvalue()


def handmade_legacy(path: Path, obj: object, storages: dict[str, np.ndarray]) -> Path:
    """The legacy layout, written by hand: lets a test record a storage view, which today's
    torch no longer writes but files from its early releases hold."""
    parts = [pickle.dumps(x, protocol=2) for x in (LEGACY_MAGIC, LEGACY_PROTOCOL, {})]
    parts += [handmade_pickle(obj), pickle.dumps(sorted(storages), protocol=2)]
    for key in sorted(storages):
        parts += [struct.pack("<q", storages[key].size), storages[key].astype("<f4").tobytes()]
    path.write_bytes(b"".join(parts))
    return path


def test_reads_a_legacy_storage_view(tmp_path):
    root = np.arange(6, dtype=np.float32)
    view = HandmadeStorage(("storage", torch.FloatStorage, "0", "cpu", 6, ("1", 2, 3)))
    whole = HandmadeStorage(("storage", torch.FloatStorage, "0", "cpu", 6, None))
    obj = {"view": HandmadeTensor(view, 1, 2), "whole": HandmadeTensor(whole, 0, 6)}
    path = handmade_legacy(tmp_path / "view.pth", obj, {"0": root})
    read = read_checkpoint(path)
    np.testing.assert_array_equal(read["view"], [3, 4])
    np.testing.assert_array_equal(read["whole"], root)
    assert_same(read, torch.load(path, weights_only=True))


def handmade_zip(
    path: Path,
    record_numel: int,
    size: int,
    stored: bytes,
    byteorder: bytes = b"little",
    state=None,
) -> Path:
    storage = HandmadeStorage(("storage", torch.FloatStorage, "0", "cpu", record_numel))
    tensor = HandmadeTensor(storage, 0, size, state)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", handmade_pickle({"w": tensor}))
        archive.writestr("archive/byteorder", byteorder)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", stored)
    return path


def test_reads_a_big_endian_zip(tmp_path):
    values = np.array([1.5, -2.0, 3.25], ">f4")
    path = handmade_zip(tmp_path / "big.pth", 3, 3, values.tobytes(), byteorder=b"big")
    read = read_checkpoint(path)
    assert read["w"].dtype == np.float32 and read["w"].dtype.isnative
    np.testing.assert_array_equal(read["w"], values)
    assert_same(read, torch.load(path, weights_only=True))


def test_refuses_a_pickle_that_sets_a_tensors_state(tmp_path):
    path = handmade_zip(tmp_path / "state.pth", 2, 2, bytes(8), state={"data": "elsewhere"})
    assert_refused(path, "sets the state of a storage or tensor")


def rewrite_zip(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def assert_refused(path: Path, *fragments: str) -> None:
    with pytest.raises(UserError) as raised:
        read_checkpoint(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return save(sample_state(), tmp_path / "good.pth", zipped=True)


@pytest.fixture
def legacy(tmp_path) -> Path:
    return save(sample_state(), tmp_path / "good_legacy.pth", zipped=False)


def test_refuses_what_is_not_a_file(tmp_path):
    assert_refused(tmp_path, "not a file")
    assert_refused(tmp_path / "missing.pth", "not a file")


def test_refuses_a_zip_that_is_not_a_checkpoint(tmp_path, checkpoint):
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("photos/a.txt", "hello")
    assert_refused(tmp_path / "photos.zip", "not a PyTorch checkpoint", "data.pkl")
    renamed = rewrite_zip(
        checkpoint,
        tmp_path / "renamed.pth",
        lambda name, data: None if "data.pkl" in name else data,
    )
    assert_refused(renamed, "no data.pkl")


def test_refuses_a_truncated_zip(tmp_path, checkpoint):
    data = checkpoint.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    assert_refused(tmp_path / "cut.pth", "truncated zip")


def test_refuses_a_zip_storage_shorter_than_its_tensor(tmp_path, checkpoint):
    short = rewrite_zip(
        checkpoint, tmp_path / "short.pth", lambda n, d: d[:5] if n.endswith("data/0") else d
    )
    assert_refused(short, "storage good/data/0 holds 5 bytes, shorter than")
    handmade = handmade_zip(tmp_path / "hand.pth", record_numel=4, size=10, stored=bytes(16))
    assert_refused(handmade, "storage 0 holds 4 elements, shorter than its tensor of size [10]")
    assert_same(
        read_checkpoint(handmade_zip(tmp_path / "fits.pth", 4, 4, bytes(16))),
        {"w": torch.zeros(4)},
    )


def test_refuses_a_legacy_file_with_a_wrong_magic_number(tmp_path, legacy):
    magic = pickle.dumps(LEGACY_MAGIC, protocol=2)
    data = legacy.read_bytes()
    assert data.startswith(magic)
    (tmp_path / "wrong.pth").write_bytes(pickle.dumps(12345, protocol=2) + data[len(magic) :])
    assert_refused(tmp_path / "wrong.pth", "wrong magic number")


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.999])
def test_refuses_a_truncated_legacy_file(tmp_path, legacy, kept):
    data = legacy.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: int(len(data) * kept)])
    assert_refused(tmp_path / "cut.pth", "truncated")


def test_refuses_a_legacy_storage_larger_than_the_file_before_reserving_it(tmp_path):
    huge = HandmadeStorage(("storage", torch.FloatStorage, "0", "cpu", 2**40, None))
    path = handmade_legacy(tmp_path / "huge.pth", {"w": HandmadeTensor(huge, 0, 4)}, {})
    counted = pickle.dumps(["0"], protocol=2) + struct.pack("<q", 2**40) + bytes(16)
    path.write_bytes(path.read_bytes().replace(pickle.dumps([], protocol=2), counted))
    assert_refused(path, "storage 0 ends past the end of the file")


def test_refuses_the_tar_format_and_unknown_files(tmp_path):
    with tarfile.open(tmp_path / "ancient.pth", "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(__file__, arcname="storages")
    assert_refused(tmp_path / "ancient.pth", "tar format")
    (tmp_path / "noise.pth").write_bytes(bytes(range(7, 255)))
    assert_refused(tmp_path / "noise.pth", "neither a PyTorch checkpoint")


def safetensors_file(path: Path, header: bytes, data: bytes, length: int | None = None) -> Path:
    size = len(header) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + header + data)
    return path


def entry(dtype: str = "F32", shape=(2,), offsets=(0, 8)) -> bytes:
    body = {"w": {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("header", "length", "fragment"),
    [
        (entry(), 10_000, "header length 10000 is out of range"),
        (b'{"w": {"dtype": "F32",', None, "not valid JSON"),
        (b"[1, 2]", None, "not a JSON object"),
        (entry(dtype="F8_E4M3"), None, "dtype 'F8_E4M3', not one of F64"),
        (entry(offsets=(0, 16)), None, "data_offsets [0, 16] fall outside the 8 data bytes"),
        (entry(offsets=(0, 4)), None, "span 4 bytes, its shape needs 8"),
        (entry(shape=(-2,)), None, "malformed shape"),
    ],
    ids=["length", "json", "not-object", "dtype", "outside", "span", "shape"],
)
def test_refuses_damaged_safetensors(tmp_path, header, length, fragment):
    path = safetensors_file(tmp_path / "bad.safetensors", header, bytes(8), length)
    assert_refused(path, fragment)


def test_a_handmade_safetensors_file_reads(tmp_path):
    values = np.array([1.5, -2.0], np.float32)
    path = safetensors_file(tmp_path / "ok.safetensors", entry(), values.tobytes())
    np.testing.assert_array_equal(read_checkpoint(path)["w"], values)
