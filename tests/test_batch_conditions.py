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


def test_labels_without_defaults_start_at_the_range_low_end():
    spec = ConditionSpec(name="style", labels=("a", "b"), value_range=(-1.0, 1.0))
    assert build_conditions((spec,), ["b=0.5"]) == {"style": [-1.0, 0.5]}


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["Red_Hair=1"], "unknown condition; this model takes: attributes .*Blond_Hair"),
        (["Blond_Hair=1.5"], r"out of range; 'attributes' takes values in \[0, 1\]"),
        (["strength=-0.1"], "out of range"),
        (["strength=2.5"], "out of range"),
        (["attributes=1,0"], "expected 5 value"),
        (["Blond_Hair=1,0"], "a label takes one value"),
        (["Blond_Hair"], "expected NAME=VALUE"),
        (["Blond_Hair=yes"], "must be numbers"),
        (["Blond_Hair=nan"], "finite"),
    ],
)
def test_mistakes_are_usage_errors_that_say_what_the_model_takes(assignments, message):
    with pytest.raises(UserError, match=message):
        build_conditions(SPECS, assignments)


def test_a_model_without_conditions_says_so():
    with pytest.raises(UserError, match="takes no conditions"):
        build_conditions((), ["x=1"])
