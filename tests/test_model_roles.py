"""A conditioned model finds its classifier by the role in the metadata, not by file name."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import onnx
import pytest

pytest.importorskip("onnx")
from batch_models import ATTRIBUTES, attributes_model, classifier_model, info

from imagexform.app.library import ModelLibrary
from imagexform.family import IOSpec
from imagexform.modelinfo import CLASSIFIER_ROLE, METADATA_KEY, ModelInfo


def reader(run: str = "", family: str = "faces", role: str = CLASSIFIER_ROLE) -> ModelInfo:
    return ModelInfo(
        family=family,
        io=IOSpec(out_channels=3),
        role=role,
        provenance={"run": run} if run else {},
    )


def generator(path: Path, run: str = "") -> Path:
    attributes_model(path)
    model = onnx.load(str(path))
    described = dataclasses.replace(info("faces", ATTRIBUTES), provenance={"run": run})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_KEY: described.to_json()})
    onnx.save(model, str(path))
    return path


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(shipped=tmp_path / "none")


def test_a_classifier_is_found_by_role_whatever_its_name(tmp_path, library):
    faces = generator(tmp_path / "faces.onnx")
    classifier_model(tmp_path / "attribute-reader.onnx", reader())
    assert library.classifier_for(faces) == tmp_path / "attribute-reader.onnx"


def test_only_a_classifier_of_the_same_family_and_run_pairs(tmp_path, library):
    faces = generator(tmp_path / "faces.onnx", run="/runs/one")
    classifier_model(tmp_path / "a-other-run.onnx", reader(run="/runs/two"))
    classifier_model(tmp_path / "b-other-family.onnx", reader(family="cats"))
    classifier_model(tmp_path / "c-no-role.onnx", reader(role=""))
    assert library.classifier_for(faces) is None
    classifier_model(tmp_path / "d-same-run.onnx", reader(run="/runs/one"))
    assert library.classifier_for(faces) == tmp_path / "d-same-run.onnx"


def test_a_file_written_before_roles_is_still_the_classifier(tmp_path, library):
    faces = generator(tmp_path / "faces.onnx")
    legacy = classifier_model(tmp_path / "faces-classifier.onnx", reader())
    model = onnx.load(str(legacy))
    raw = json.loads(model.metadata_props[0].value)
    del raw["role"]
    raw["variant"] = "classifier"  # how face editing's classifier was told apart then
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(raw)})
    onnx.save(model, str(legacy))
    assert library.describe(legacy).info.role == CLASSIFIER_ROLE
    assert library.classifier_for(faces) == legacy


def test_a_classifier_is_not_offered_as_a_variant(tmp_path, library):
    a2b = tmp_path / "run-A2B.onnx"
    attributes_model(a2b)
    model = onnx.load(str(a2b))
    described = dataclasses.replace(info("faces", ATTRIBUTES), variant="A2B")
    onnx.helper.set_model_props(model, {METADATA_KEY: described.to_json()})
    onnx.save(model, str(a2b))
    generator(tmp_path / "run-B2A.onnx")
    classifier_model(tmp_path / "run-attributes.onnx", reader())
    assert set(library.variants(a2b)) == {"A2B", "B2A"}


def test_tile_hints_from_a_newer_imagexform_are_ignored_not_fatal():
    info = ModelInfo(family="x", io=IOSpec())
    raw = json.loads(info.to_json())
    raw["tile"]["some_future_hint"] = 3
    assert ModelInfo.from_json(json.dumps(raw)).tile == info.tile
