"""Face attribute editing (StarGAN): attribute tables, training, the published layout,
import and export with an attribute input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conformance import assert_matches, case_spec, fixture_inputs, load_manifest, load_state

from imagexform.app.library import ModelLibrary
from imagexform.cli import cli
from imagexform.errors import DataError, UserError
from imagexform.runtime import load_model
from imagexform.runtime.modelfile import inspect_model
from imagexform_faceedit.attributes import read_table
from imagexform_faceedit.importer import StarGANImporter
from imagexform_faceedit.networks import Discriminator
from imagexform_faceedit.synthetic import ATTRIBUTES, write_dataset

TINY = [
    f"attributes={','.join(ATTRIBUTES)}",
    "groups=Black_Hair,Blond_Hair,Brown_Hair",
    "image_size=32",
    "crop_size=64",
    "conv_dim=8",
    "d_conv_dim=8",
    "repeat_num=2",
    "batch_size=2",
    "n_critic=2",
    "log_every=1",
]


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def faces(tmp_path: Path) -> Path:
    write_dataset(tmp_path / "faces", 6)
    return tmp_path / "faces"


def test_celeba_table_with_irregular_spacing_and_csv(tmp_path):
    celeba = tmp_path / "list_attr_celeba.txt"
    celeba.write_text("2\nSmiling Male  Young\n000001.jpg  1 -1  1\n000002.jpg -1  1 -1\n")
    assert read_table(celeba, ["Young", "Smiling"]) == {
        "000001.jpg": {"Young": 1.0, "Smiling": 1.0},
        "000002.jpg": {"Young": 0.0, "Smiling": 0.0},
    }
    table = tmp_path / "mine.csv"
    table.write_text("filename,Smiling,Glasses\na.png,1,0\nb.png,0,1\n")
    assert read_table(table, ["Glasses"]) == {"a.png": {"Glasses": 0.0}, "b.png": {"Glasses": 1.0}}


@pytest.mark.parametrize(
    ("text", "wanted", "message"),
    [
        ("3\nSmiling Young\na.jpg 1 1\nb.jpg -1 1\n", ["Young"], "says 3 images but 2 are listed"),
        (
            "2\nSmiling Young\na.jpg 1 1\nb.jpg -1 1\n",
            ["Male"],
            "no attribute Male; available: Smiling, Young",
        ),
        ("2\nSmiling Young\na.jpg 1 1\na.jpg -1 1\n", ["Young"], "line 4: a.jpg is listed twice"),
        (
            "2\nSmiling Young\na.jpg 1 0\nb.jpg -1 1\n",
            ["Young"],
            "line 3: Young of a.jpg is '0', not 1 or -1",
        ),
        ("x\nSmiling\n", ["Smiling"], "line 1: expected the number of images"),
    ],
)
def test_bad_attribute_tables_name_the_line(tmp_path, text, wanted, message):
    path = tmp_path / "list_attr_celeba.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_table(path, wanted)


def test_a_missing_image_is_named(faces, tmp_path):
    (faces / "images" / "000003.png").unlink()
    sets = [part for item in [*TINY, "steps=1"] for part in ("--set", item)]
    result = invoke("train", "faceedit", "--data", faces, "--out", tmp_path / "run", *sets)
    assert result.exit_code == 2 and "1 listed image(s) missing: 000003.png" in result.output


def test_training_steps_are_finite_with_a_gradient_penalty(faces, tmp_path):
    run = tmp_path / "run"
    sets = [part for item in [*TINY, "steps=4"] for part in ("--set", item)]
    result = invoke("train", "faceedit", "--data", faces, "--out", run, *sets)
    assert result.exit_code == 0, result.output
    steps = [line for line in result.output.splitlines() if line.startswith("step ")]
    penalties = [float(line.split("gp ")[1].split()[0]) for line in steps]
    assert all(np.isfinite(penalties)) and any(p > 0 for p in penalties)
    assert any("G_rec" in line for line in steps)  # the generator's turn came (n_critic 2)

    target = tmp_path / "faces.onnx"
    exported = invoke("export", run, "-o", target)
    assert exported.exit_code == 0, exported.output
    info = inspect_model(target).info
    (condition,) = info.io.conditions
    assert condition.labels == ATTRIBUTES and condition.groups == (ATTRIBUTES[:3],)
    model = load_model(target)
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    outputs = [
        model.run(image, {"attributes": np.array(v, np.float32)})
        for v in ([1, 0, 0, 0, 0], [0, 1, 0, 1, 1], [0, 0, 0.5, 0.5, 0])
    ]
    assert not np.allclose(outputs[0], outputs[1])
    with pytest.raises(UserError, match="Black_Hair"):
        model.check_conditions({"attributes": [1.0, 0.0]})

    classifier_path = tmp_path / "faces-classifier.onnx"
    result = invoke("export", run, "-o", classifier_path, "--variant", "classifier")
    assert result.exit_code == 0, result.output
    assert inspect_model(classifier_path).info.variant == "classifier"
    assert inspect_model(classifier_path).info.role == "classifier"
    classifier = load_model(classifier_path)
    for size in (32, 48):
        photo = np.random.default_rng(size).uniform(-1, 1, (2, 3, size, size)).astype(np.float32)
        probabilities = classifier.run(photo)
        assert probabilities.shape == (2, 5)
        assert ((probabilities > 0) & (probabilities < 1)).all()
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), np.zeros((32, 32, 3), np.uint8))
    refused = invoke("batch", tmp_path / "in", tmp_path / "out", "-m", classifier_path)
    assert (
        refused.exit_code == 2 and "not an image, so it cannot transform images" in refused.output
    )


def test_export_all_writes_the_editor_and_its_classifier_side_by_side(faces, tmp_path):
    """--variant all writes the family's model under OUTPUT and each variant beside it, so
    the editor's "Preset from photo" finds the classifier next to the generator."""
    run = tmp_path / "run"
    sets = [part for item in [*TINY, "steps=1"] for part in ("--set", item)]
    assert invoke("train", "faceedit", "--data", faces, "--out", run, *sets).exit_code == 0
    target = tmp_path / "face.onnx"
    result = invoke("export", run, "-o", target, "--variant", "all")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["face-classifier.onnx", "face.onnx"]
    generator = inspect_model(target).info
    assert generator.variant == "" and generator.io.conditions[0].labels == ATTRIBUTES
    assert inspect_model(tmp_path / "face-classifier.onnx").info.variant == "classifier"
    assert ModelLibrary().classifier_for(target) == (tmp_path / "face-classifier.onnx")


@pytest.mark.parametrize("mode", ["per_image", "running"])
def test_published_generator_imports_in_both_norm_modes(mode):
    folder, entry, spec = case_spec(load_manifest(), ("stargan_generator", None))
    imported = StarGANImporter().load(load_state(folder, spec), {"instance_norm_stats": mode})
    assert imported is not None
    assert imported.config.conv_dim == 16 and imported.config.repeat_num == 6
    x, c = fixture_inputs(folder, entry)
    with torch.no_grad():
        out = imported.nets["G"].eval()(x, c)
    expected = entry["outputs"][0] if mode == "running" else entry["extra_outputs"][0]
    assert_matches(out, folder, expected)


def test_published_discriminator_layout():
    folder, entry, spec = case_spec(load_manifest(), ("stargan_discriminator", None))
    net = Discriminator(**entry["class_args"])
    net.load_state_dict(load_state(folder, spec), strict=True)
    with torch.no_grad():
        src, cls = net.eval()(*fixture_inputs(folder, entry))
    assert_matches(src, folder, entry["outputs"][0])
    assert_matches(cls, folder, entry["outputs"][1])


def test_import_needs_attribute_names_when_the_count_is_not_five(tmp_path):
    from imagexform_faceedit.networks import Generator

    path = tmp_path / "200000-G.ckpt"
    torch.save(Generator(8, 3, 1).state_dict(), path)
    result = invoke("import", path, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and "--set attributes=NAME1,...,NAME3" in result.output
    named = invoke(
        "import", path, "-o", tmp_path / "m.onnx", "--set", "attributes=a,b,c", "--set", "groups="
    )
    assert named.exit_code == 0, named.output
    assert inspect_model(tmp_path / "m.onnx").info.io.conditions[0].labels == ("a", "b", "c")


def test_import_names_the_mismatch_of_a_generator_that_only_looks_like_stargan(tmp_path):
    from imagexform_faceedit.networks import Generator

    state = Generator(8, 5, 1).state_dict()
    state["main.1.weight"] = state["main.1.weight"][:4]  # one norm layer of the wrong width
    path = tmp_path / "200000-G.ckpt"
    torch.save(state, path)
    result = invoke("import", path, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert "looks like a StarGAN generator (5 attributes, conv_dim 8) but does not fit" in (
        result.output
    )
    assert "main.1.weight" in result.output and not (tmp_path / "m.onnx").exists()
