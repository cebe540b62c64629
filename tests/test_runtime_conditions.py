"""Condition inputs: defaults, values reaching the graph, and validation against the spec."""

from __future__ import annotations

import numpy as np
import pytest

from imagexform.errors import UserError
from imagexform.family import ConditionSpec
from imagexform.runtime import load_model

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

GRAY = np.full((6, 5, 3), 100, np.uint8)


@pytest.fixture
def shifter(tmp_path):
    return load_model(om.shifter(tmp_path / "shift.onnx"))


def test_defaults_apply_when_no_value_is_given(shifter):
    assert np.array_equal(shifter.transform(GRAY), GRAY)


def test_values_reach_the_graph(shifter):
    brighter = shifter.transform(GRAY, {"shift": [0.2, 0.0]})
    darker = shifter.transform(GRAY, {"shift": (0.0, 0.2)})
    assert (brighter == 151).all() and (darker == 49).all()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0.6, 0.0], r"condition 'shift' value up=0.6 is outside the allowed range -0.5 to 0.5"),
        ([0.0, -0.51], r"down=-0.51 is outside the allowed range -0.5 to 0.5"),
        ([float("nan"), 0.0], r"up=nan is outside"),
        (0.1, r"condition 'shift' takes 2 value\(s\) \(up, down\), got 1"),
        (["a", "b"], r"condition 'shift' must be numbers"),
    ],
)
def test_bad_values_name_the_condition_and_its_range(shifter, value, message):
    with pytest.raises(UserError, match=message):
        shifter.transform(GRAY, {"shift": value})


def test_unknown_condition_lists_the_known_ones(shifter, tmp_path):
    with pytest.raises(UserError, match=r"shift\.onnx: unknown condition 'mood' .*takes: shift"):
        shifter.transform(GRAY, {"mood": 1.0})
    plain = load_model(om.identity(tmp_path / "plain.onnx"))
    with pytest.raises(UserError, match=r"takes: none"):
        plain.transform(GRAY, {"shift": 0.0})


def test_check_conditions_fills_defaults(shifter):
    vectors = shifter.check_conditions({})
    assert list(vectors) == ["shift"]
    assert vectors["shift"].tolist() == [0.0, 0.0]


def test_a_condition_without_defaults_starts_at_the_low_end(tmp_path):
    spec = ConditionSpec(name="shift", labels=("up", "down"), value_range=(0.0, 0.4))
    model = load_model(om.shifter(tmp_path / "shift.onnx", spec))
    assert model.check_conditions(None)["shift"].tolist() == [0.0, 0.0]
    assert np.array_equal(model.transform(GRAY), GRAY)


def test_raw_run_repeats_conditions_over_the_batch(shifter):
    batch = np.zeros((3, 3, 4, 4), np.float32)
    out = shifter.run(batch, {"shift": np.array([0.25, 0.0])})
    assert out.shape == (3, 3, 4, 4) and np.allclose(out, 0.25)
    assert np.allclose(shifter.run(batch), 0.0)
