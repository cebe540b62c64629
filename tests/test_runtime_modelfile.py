"""Reading a model file's metadata and signature without loading its weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from imagexform.errors import UserError
from imagexform.modelinfo import METADATA_KEY
from imagexform.runtime.modelfile import inspect_model, read_model_info

pytest.importorskip("onnx")
import onnx  # the tests build their models with it, hence after importorskip
import onnx_models as om

WEIGHT_BYTES = 16 * 2**20


def heavy(path: Path) -> Path:
    """An identity through 16 MiB of weights: a file whose weights dwarf its description."""
    return om.wide_identity(path, width=WEIGHT_BYTES // (2 * 3 * 4))


def as_session_sees_it(path: Path) -> tuple:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta()

    def described(args: list) -> list:
        return [(arg.name, tuple(arg.shape), arg.type) for arg in args]

    return (
        described(session.get_inputs()),
        described(session.get_outputs()),
        dict(meta.custom_metadata_map),
        meta.producer_name,
    )


def as_read(path: Path) -> tuple:
    model = inspect_model(path)

    def described(tensors: list) -> list:
        return [(tensor.name, tensor.shape, tensor.element_type) for tensor in tensors]

    return described(model.inputs), described(model.outputs), model.metadata, model.producer


@pytest.mark.parametrize(
    "build",
    [
        om.identity,
        lambda path: om.shifter(path),
        lambda path: om.foreign_identity(path, size=(64, 48)),
        lambda path: om.upscaler(path, 2, metadata=False),
        heavy,
    ],
    ids=["identity", "condition", "fixed-size-foreign", "no-metadata", "heavy"],
)
def test_reads_what_onnxruntime_reads(tmp_path, build):
    path = build(tmp_path / "m.onnx")
    assert as_read(path) == as_session_sees_it(path)


def test_initializers_listed_as_graph_inputs_are_not_inputs(tmp_path):
    """Older exporters list every weight among the graph inputs; a session does not."""
    model = onnx.load(str(om.identity(tmp_path / "m.onnx")))
    weights = model.graph.initializer[0]
    model.graph.input.append(
        onnx.helper.make_tensor_value_info(weights.name, weights.data_type, list(weights.dims))
    )
    onnx.save(model, str(tmp_path / "listed.onnx"))
    read = inspect_model(tmp_path / "listed.onnx")
    assert [tensor.name for tensor in read.inputs] == [om.IMAGE_INPUT]
    assert as_read(tmp_path / "listed.onnx") == as_session_sees_it(tmp_path / "listed.onnx")


def test_metadata_is_parsed(tmp_path):
    path = heavy(tmp_path / "m.onnx")
    info = read_model_info(path)
    assert info == om.model_info()
    model = inspect_model(path)
    assert model.info == info and METADATA_KEY in model.metadata
    assert model.size_bytes == path.stat().st_size > WEIGHT_BYTES
    assert model.inputs[0].dtype == np.float32


def test_the_weights_are_not_read(tmp_path):
    """Measured with the kernel's count of bytes this process read (``rchar``)."""
    io_counters = Path("/proc/self/io")
    if not io_counters.is_file():
        pytest.skip("no /proc/self/io to count the bytes read")

    def bytes_read() -> int:
        fields = dict(line.split(": ") for line in io_counters.read_text().splitlines())
        return int(fields["rchar"])

    path = heavy(tmp_path / "m.onnx")
    before = bytes_read()
    inspect_model(path)
    assert bytes_read() - before < WEIGHT_BYTES / 64


def test_a_file_whose_external_weights_are_missing_is_described(tmp_path):
    path = tmp_path / "external.onnx"
    model = onnx.load(str(heavy(tmp_path / "m.onnx")))
    onnx.save(model, str(path), save_as_external_data=True, location="external.onnx.data")
    (tmp_path / "external.onnx.data").unlink()
    described = inspect_model(path)
    assert described.info == om.model_info()
    assert [tensor.name for tensor in described.inputs] == [om.IMAGE_INPUT]


@pytest.mark.parametrize("keep", [0.5, 0.001])
def test_a_truncated_file_is_a_one_line_error_naming_it(tmp_path, keep):
    whole = heavy(tmp_path / "m.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(whole[: max(int(len(whole) * keep), 8)])
    with pytest.raises(UserError, match=r"cut\.onnx: not an ONNX model \(truncated") as caught:
        inspect_model(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not an ONNX model (the file is empty)"),
        (b"this is not a model", "not an ONNX model ("),
        (b"\x08\x07", "not an ONNX model (no graph in the file)"),
    ],
    ids=["empty", "text", "no-graph"],
)
def test_files_that_are_not_models(tmp_path, content, problem):
    path = tmp_path / "fake.onnx"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"fake\.onnx: ") as caught:
        inspect_model(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(UserError, match=r"nothing\.onnx: file not found"):
        inspect_model(tmp_path / "nothing.onnx")
    with pytest.raises(UserError, match="is a folder"):
        inspect_model(tmp_path)


def test_a_model_without_our_metadata_has_no_info(tmp_path):
    path = om.foreign_identity(tmp_path / "foreign.onnx")
    assert inspect_model(path).info is None
    with pytest.raises(UserError, match=r"foreign\.onnx: has no imagexform metadata"):
        read_model_info(path)
