"""Property tests for answer validation: what is accepted is exactly what the round allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from survey.questions import InvalidAnswersError, LockedItem, parse_items, validate_answers

keys = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
values = st.one_of(st.integers(-5, 20), st.sampled_from(["yes", "no", "na", "partly", "<2", ">10"]))


@st.composite
def item_lists(draw) -> list[LockedItem]:
    item_keys = draw(st.lists(keys, min_size=1, max_size=8, unique=True))
    return [
        LockedItem(
            key=key,
            options=tuple(draw(st.lists(values, min_size=2, max_size=7, unique=True))),
            required=draw(st.booleans()),
        )
        for key in item_keys
    ]


@st.composite
def items_and_valid_answers(draw):
    items = draw(item_lists())
    answers = {}
    for item in items:
        if item.required or draw(st.booleans()):
            answers[item.key] = draw(st.sampled_from(item.options))
    if not answers:
        answers[items[0].key] = items[0].options[0]
    return items, answers


@given(items_and_valid_answers())
def test_valid_answers_are_accepted_unchanged(case) -> None:
    items, answers = case
    assert validate_answers(items, answers) == answers


@given(items_and_valid_answers(), st.data())
def test_a_value_outside_the_options_is_always_refused(case, data) -> None:
    items, answers = case
    item = data.draw(st.sampled_from(items))
    bad = data.draw(
        st.one_of(values, st.booleans(), st.floats(allow_nan=False), st.text(max_size=5)).filter(
            lambda v: not any(type(v) is type(o) and v == o for o in item.options)
        )
    )
    with pytest.raises(InvalidAnswersError, match=item.key):
        validate_answers(items, {**answers, item.key: bad})


@given(items_and_valid_answers(), keys)
def test_unknown_items_are_always_refused(case, extra: str) -> None:
    items, answers = case
    if extra in {item.key for item in items}:
        return
    with pytest.raises(InvalidAnswersError, match=f"unknown item '{extra}'"):
        validate_answers(items, {**answers, extra: 1})


@given(items_and_valid_answers(), st.data())
def test_missing_required_items_are_refused(case, data) -> None:
    items, answers = case
    required = [item for item in items if item.required]
    if not required:
        return
    item = data.draw(st.sampled_from(required))
    answers = {k: v for k, v in answers.items() if k != item.key}
    with pytest.raises(InvalidAnswersError, match=f"'{item.key}' is required"):
        validate_answers(items, answers)


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_non_mappings_are_refused(answers: object) -> None:
    items = [LockedItem(key="stress", options=(1, 2, 3, 4, 5))]
    with pytest.raises(InvalidAnswersError, match="mapping"):
        validate_answers(items, answers)


def test_every_problem_is_reported_at_once() -> None:
    items = [LockedItem(key="a", options=(1, 2)), LockedItem(key="b", options=(1, 2))]
    with pytest.raises(InvalidAnswersError) as caught:
        validate_answers(items, {"a": 3, "zzz": 1})
    assert len(caught.value.problems) == 3


def test_item_definitions_are_checked() -> None:
    with pytest.raises(ValidationError):
        LockedItem(key="Bad Key", options=(1, 2))
    with pytest.raises(ValidationError, match="distinct"):
        LockedItem(key="a", options=(1, 1))
    with pytest.raises(ValidationError, match="not true/false"):
        LockedItem(key="a", options=(True, False))
    with pytest.raises(ValueError, match="duplicate item keys: a"):
        parse_items([{"key": "a", "options": [1, 2]}, {"key": "a", "options": [1, 2]}])


def test_free_text_items_take_bounded_non_empty_text() -> None:
    items = [
        LockedItem(key="comment", text=True, max_length=20, required=False),
        LockedItem(key="stress", options=(1, 2, 3, 4, 5)),
    ]
    assert validate_answers(items, {"stress": 3, "comment": "  för mycket  "}) == {
        "stress": 3,
        "comment": "för mycket",
    }
    with pytest.raises(InvalidAnswersError, match="text of 1 to 20 characters"):
        validate_answers(items, {"stress": 3, "comment": "x" * 21})
    with pytest.raises(InvalidAnswersError, match="text of 1 to 20 characters"):
        validate_answers(items, {"stress": 3, "comment": "   "})
    with pytest.raises(ValidationError, match="has no options"):
        LockedItem(key="c", text=True, options=(1, 2))


def test_the_time_a_check_in_takes_is_computed_from_its_questions() -> None:
    from survey.questions.locked import LockedItem, estimated_minutes

    choice = LockedItem(key="stress", options=(1, 2, 3, 4, 5))
    text = LockedItem(key="comment", text=True, required=False)
    assert estimated_minutes([choice] * 7) == 1  # "under a minute"
    assert estimated_minutes([choice] * 10) == 1
    assert estimated_minutes([choice] * 11) == 2  # 66 s
    assert estimated_minutes([choice] * 8 + [text]) == 2  # free text takes longer
