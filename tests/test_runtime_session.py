"""Loading models: metadata, foreign models and overrides, unusable files, providers."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from imagexform.errors import UserError
from imagexform.family import ConditionSpec, IOSpec, TileHints
from imagexform.modelinfo import METADATA_KEY
from imagexform.runtime import RuntimeModel, load_model

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

CUDA_AVAILABLE = "CUDAExecutionProvider" in ort.get_available_providers()
RNG = np.random.default_rng(0)


def photo(height: int = 37, width: int = 53) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_metadata_is_read(tmp_path):
    info = om.model_info(
        IOSpec(value_range=(-1.0, 1.0), size_multiple=4), TileHints(tile_size=128, overlap=12)
    )
    info.title = "identity"
    model = load_model(om.identity(tmp_path / "m.onnx", info))
    assert isinstance(model, RuntimeModel)
    assert model.info == info
    assert model.precision == "fp32"


def test_malformed_metadata_names_the_file(tmp_path):
    path = om.identity(tmp_path / "broken.onnx")
    import onnx

    model = onnx.load(str(path))
    model.metadata_props[0].value = '{"family": "x"}'
    onnx.save(model, str(path))
    with pytest.raises(UserError, match=r"broken\.onnx: malformed imagexform metadata"):
        load_model(path)


def test_foreign_model_gets_defaults_and_its_scale_is_measured(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x3.onnx", 3, metadata=False))
    assert model.info.family == "foreign"
    assert model.info.io.value_range == (0.0, 1.0)
    assert model.info.io.scale == 3
    image = photo()
    assert np.array_equal(model.transform(image), image.repeat(3, 0).repeat(3, 1))


def test_foreign_model_with_other_tensor_names_runs(tmp_path):
    model = load_model(om.foreign_identity(tmp_path / "plain.onnx"))
    image = photo()
    assert model.info.io.scale == 1
    assert np.array_equal(model.transform(image), image)


def test_overrides_apply_to_models_with_metadata(tmp_path):
    model = load_model(
        om.identity(tmp_path / "m.onnx"), value_range=(-1, 1), scale=1, size_multiple=8
    )
    assert model.info.io.value_range == (-1.0, 1.0)
    assert model.info.io.size_multiple == 8


def test_scale_override_skips_the_probe_and_a_wrong_one_is_reported(tmp_path):
    model = load_model(om.upscaler(tmp_path / "x2.onnx", 2, metadata=False), scale=1)
    assert model.info.io.scale == 1
    with pytest.raises(UserError, match=r"x2\.onnx: .* not 37×41 as scale 1 says"):
        model.transform(photo(41, 37))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"this is not a model", "not an ONNX model"),
        (b"", r"not an ONNX model \(the file is empty\)"),
    ],
)
def test_a_file_that_is_not_onnx_is_a_user_error_naming_it(tmp_path, content, problem):
    path = tmp_path / "fake.onnx"
    path.write_bytes(content)
    with pytest.raises(UserError, match=rf"fake\.onnx: {problem}"):
        load_model(path)


def test_missing_file_and_folder_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"nothing\.onnx: file not found"):
        load_model(tmp_path / "nothing.onnx")
    with pytest.raises(UserError, match="is a folder"):
        load_model(tmp_path)


def test_model_with_metadata_but_no_image_input(tmp_path):
    path = om.save(
        tmp_path / "renamed.onnx",
        [om.helper.make_node("Identity", ["pixels"], ["output"])],
        info=om.model_info(),
        inputs=[om.image_tensor("pixels")],
    )
    with pytest.raises(UserError, match=r"renamed\.onnx: the graph has no input named 'image'"):
        load_model(path)


def test_declared_condition_missing_from_the_graph(tmp_path):
    info = om.model_info(IOSpec(value_range=(0, 1), conditions=(ConditionSpec("mood"),)))
    with pytest.raises(UserError, match=r"m\.onnx: .*condition input\(s\) mood"):
        load_model(om.identity(tmp_path / "m.onnx", info))


def test_graph_input_the_metadata_does_not_declare(tmp_path):
    path = om.shifter(tmp_path / "m.onnx", info=om.model_info())
    with pytest.raises(UserError, match=r"m\.onnx: the graph has input\(s\) shift"):
        load_model(path)


def test_foreign_model_with_two_image_inputs_is_ambiguous(tmp_path):
    path = om.save(
        tmp_path / "two.onnx",
        [om.helper.make_node("Add", ["a", "b"], ["output"])],
        info=None,
        inputs=[om.image_tensor("a"), om.image_tensor("b")],
    )
    with pytest.raises(UserError, match=r"two\.onnx: .*2 four-dimensional inputs"):
        load_model(path)


@pytest.mark.skipif(CUDA_AVAILABLE, reason="this onnxruntime has CUDA")
def test_auto_device_runs_on_the_cpu_without_cuda(tmp_path):
    assert load_model(om.identity(tmp_path / "m.onnx")).provider == "CPUExecutionProvider"


@pytest.mark.skipif(CUDA_AVAILABLE, reason="this onnxruntime has CUDA")
def test_cuda_without_cuda_support_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"m\.onnx: CUDA was requested but onnxruntime .* 'cpu'"):
        load_model(om.identity(tmp_path / "m.onnx"), device="cuda")


def test_cpu_device_and_threads(tmp_path):
    model = load_model(om.identity(tmp_path / "m.onnx"), device="cpu", threads=1)
    assert model.provider == "CPUExecutionProvider"
    image = photo()
    assert np.array_equal(model.transform(image), image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"threads": -1}, "threads must be 0"),
        ({"precision": "int4"}, "unknown precision 'int4'"),
        ({"value_range": (1, 1)}, "two different finite numbers"),
        ({"scale": 0}, "scale must be a positive integer"),
        ({"size_multiple": 0}, "size multiple must be a positive integer"),
    ],
)
def test_bad_options_are_user_errors(tmp_path, options, message):
    with pytest.raises(UserError, match=message):
        load_model(om.identity(tmp_path / "m.onnx"), **options)


def test_metadata_key_is_the_contract(tmp_path):
    path = om.identity(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert METADATA_KEY in session.get_modelmeta().custom_metadata_map
