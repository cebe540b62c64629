"""Condition flags checked against the conditions a model declares."""

from __future__ import annotations

import pytest

from imagexform.batch.conditions import build_conditions
from imagexform.errors import UserError
from imagexform.family import ConditionSpec

HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair")
ATTRIBUTES = ConditionSpec(
    name="attributes",
    labels=(*HAIR, "Male", "Young"),
    defaults=(1.0, 0.0, 0.0, 0.0, 1.0),
    groups=(HAIR,),
    value_range=(0.0, 1.0),
)
STRENGTH = ConditionSpec(name="strength", defaults=(1.0,), value_range=(0.0, 2.0))
SPECS = (ATTRIBUTES, STRENGTH)


def test_nothing_set_leaves_defaults_to_the_runtime():
    assert build_conditions(SPECS, []) == {}


def test_whole_vector_by_name():
    assert build_conditions(SPECS, ["attributes=0,0,1,1,0"]) == {
        "attributes": [0.0, 0.0, 1.0, 1.0, 0.0]
    }


def test_label_starts_from_defaults_and_clears_its_exclusive_group():
    assert build_conditions(SPECS, ["Blond_Hair=1"]) == {"attributes": [0.0, 1.0, 0.0, 0.0, 1.0]}


def test_labels_set_together_are_kept():
    result = build_conditions(SPECS, ["Blond_Hair=0.5", "Brown_Hair=0.5", "Male=1"])
    assert result == {"attributes": [0.0, 0.5, 0.5, 1.0, 1.0]}


def test_label_applies_on_top_of_a_vector():
    result = build_conditions(SPECS, ["attributes=0,0,0,0,0", "Young=1"])
    assert result == {"attributes": [0.0, 0.0, 0.0, 0.0, 1.0]}


def test_strength_shorthand():
    assert build_conditions(SPECS, [], strength=0.7) == {"strength": [0.7]}


def test_labels_without_defaults_start_at_the_range_low_end():
    spec = ConditionSpec(name="style", labels=("a", "b"), value_range=(-1.0, 1.0))
    assert build_conditions((spec,), ["b=0.5"]) == {"style": [-1.0, 0.5]}


@pytest.mark.parametrize(
    ("assignments", "strength", "message"),
    [
        (["Red_Hair=1"], None, "unknown condition; this model takes: attributes .*Blond_Hair"),
        (["Blond_Hair=1.5"], None, r"out of range; 'attributes' takes values in \[0, 1\]"),
        (["strength=-0.1"], None, "out of range"),
        ([], 2.5, "out of range"),
        (["attributes=1,0"], None, "expected 5 value"),
        (["Blond_Hair=1,0"], None, "a label takes one value"),
        (["Blond_Hair"], None, "expected NAME=VALUE"),
        (["Blond_Hair=yes"], None, "must be numbers"),
        (["Blond_Hair=nan"], None, "finite"),
    ],
)
def test_mistakes_are_usage_errors_that_say_what_the_model_takes(assignments, strength, message):
    with pytest.raises(UserError, match=message):
        build_conditions(SPECS, assignments, strength)


def test_strength_on_a_model_without_one():
    with pytest.raises(UserError, match="no 'strength' condition; this model takes: attributes"):
        build_conditions((ATTRIBUTES,), [], strength=0.5)
    with pytest.raises(UserError, match="takes no conditions"):
        build_conditions((), ["x=1"])
