"""Question sets: shipped defaults, actionable errors for bad files, versions and lineage."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.questions import (
    QuestionSet,
    QuestionSetError,
    dump_question_set,
    import_question_set,
    items_for_round,
    list_question_sets,
    load_question_set,
    load_question_set_file,
    load_version,
)
from survey.questions.loader import MAX_FILE_BYTES

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"
DEFAULT = SETS / "social-work-weekly.yaml"

MINIMAL = """\
id: tiny
title: {sv: Liten, en: Tiny}
languages: [sv, en]
constructs:
  stress: {label: {sv: Stress, en: Stress}}
scales:
  five:
    values: [1, 2, 3, 4, 5]
    labels:
      sv: [a, b, c, d, e]
      en: [a, b, c, d, e]
items:
  - key: stress
    construct: stress
    type: scale
    scale: five
    direction: higher_is_worse
    text:
      sv: Hur stressad?
      en: How stressed?
"""


def test_shipped_sets_load() -> None:
    for path in SETS.glob("*.yaml"):
        load_question_set_file(path)


def test_default_set_rotation_over_eight_weeks() -> None:
    qs = load_question_set_file(DEFAULT)
    asked: Counter[str] = Counter()
    for week in range(8):
        items = items_for_round(qs, week)
        assert len(items) <= qs.max_items_per_checkin
        asked.update(item.key for item in items)
    for item in qs.items:
        assert asked[item.key] == 8 // item.cadence, item.key
    assert {item.key for item in items_for_round(qs, 0)} >= {"behind", "stress", "support"}


def test_who5_is_asked_whole_every_second_round() -> None:
    qs = load_question_set_file(SETS / "who5.yaml")
    assert [len(items_for_round(qs, r)) for r in range(4)] == [5, 0, 5, 0]


def _error(text: str) -> str:
    with pytest.raises(QuestionSetError) as caught:
        load_question_set(text, source="set.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("type: scale", "type: slider"),
            "set.yaml:15: item 'stress': type: must be one of: scale, choice, yes_no, text",
        ),
        (
            (
                "    direction: higher_is_worse",
                "    direction: higher_is_worse\n    same_meaning: maybe",
            ),
            "set.yaml:18: item 'stress': same_meaning: must be true or false",
        ),
        (
            ("      en: How stressed?\n", ""),
            "set.yaml:18: item 'stress': text: missing translation for 'en'",
        ),
        (
            ("en: [a, b, c, d, e]", "en: [a, b, c, d]"),
            "set.yaml:11: scales.five.labels.en: 4 labels for 5 scale points",
        ),
        (
            ("construct: stress\n", "construct: strain\n"),
            "set.yaml:14: item 'stress': construct: unknown construct 'strain'",
        ),
        (("scale: five", "scale: seven"), "item 'stress': scale: unknown scale 'seven'"),
        (
            ("direction: higher_is_worse", "direction: higher_is_worse\n    colour: red"),
            "set.yaml:18: item 'stress': colour: unknown field",
        ),
        (("id: tiny", "id: Tiny Set"), "set.yaml:1: id: 'Tiny Set' is not allowed"),
    ],
)
def test_bad_files_say_where_what_and_what_is_allowed(change, expected) -> None:
    old, new = change
    assert old in MINIMAL
    assert expected in _error(MINIMAL.replace(old, new, 1))


def test_unknown_type_lists_the_allowed_types() -> None:
    message = _error(MINIMAL.replace("type: scale", "type: slider"))
    assert "must be one of: scale, choice, yes_no, text" in message


def test_duplicate_item_key_names_both_items() -> None:
    item = MINIMAL[MINIMAL.index("  - key: stress") :]
    message = _error(MINIMAL + item)
    assert "set.yaml:21: item 'stress': key: duplicate item key 'stress' (also item 1)" in message


def test_duplicate_yaml_keys_are_not_silently_merged() -> None:
    message = _error(MINIMAL.replace("id: tiny", "id: tiny\nid: other"))
    assert "set.yaml:2: id: this key appears twice here" in message


def test_not_yaml_not_a_set_and_too_large() -> None:
    assert "set.yaml:2: not valid YAML" in _error("id: [unclosed\ntitle: x\n")
    assert "not a question set" in _error("- just\n- a list\n")
    assert "not a text file" in _error(b"\xff\xfe\x00binary")  # type: ignore[arg-type]  # the hostile upload on purpose
    assert f"at most {MAX_FILE_BYTES:,} bytes" in _error("#" * (MAX_FILE_BYTES + 1))


def test_free_text_needs_to_be_switched_on() -> None:
    text_item = (
        "  - key: comment\n    construct: stress\n    type: text\n    required: false\n"
        "    text: {sv: Kommentar, en: Comment}\n"
    )
    message = _error(MINIMAL + text_item)
    assert "item 'comment': type: free text is off for this set" in message
    assert load_question_set(
        MINIMAL.replace("languages:", "allow_free_text: true\nlanguages:") + text_item
    )


def test_rotation_over_the_item_limit_is_refused() -> None:
    message = _error(
        MINIMAL.replace("languages: [sv, en]", "languages: [sv, en]\nmax_items_per_checkin: 1")
        + MINIMAL[MINIMAL.index("  - key: stress") :].replace("key: stress", "key: strain")
    )
    assert "would ask 2 items (stress, strain), more than max_items_per_checkin 1" in message


def test_every_problem_is_listed_at_once() -> None:
    broken = MINIMAL.replace("scale: five", "scale: seven").replace("      en: How stressed?\n", "")
    assert len(_error(broken).splitlines()) == 2


def test_json_schema_describes_the_format() -> None:
    schema = QuestionSet.model_json_schema(by_alias=True)
    text = json.dumps(schema)
    assert schema["properties"]["items"]["type"] == "array"
    assert '"yes_no"' in text
    assert '"construct"' in text


# --- hypothesis: YAML -> model -> YAML round trip -------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö ", min_size=1, max_size=20).map(
    lambda s: s.strip() or "x"
)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def question_sets(draw) -> QuestionSet:
    size = draw(st.integers(2, 7))
    scale = {
        "values": list(range(1, size + 1)),
        "labels": {
            "sv": [draw(words) for _ in range(size)],
            "en": [draw(words) for _ in range(size)],
        },
    }
    item_keys = draw(st.lists(keys, min_size=1, max_size=6, unique=True))
    items = []
    for key in item_keys:
        kind = draw(st.sampled_from(["scale", "choice", "yes_no"]))
        item = {
            "key": key,
            "construct": "c",
            "type": kind,
            "text": {"sv": draw(words), "en": draw(words)},
            "cadence": draw(st.sampled_from([1, 2, 4])),
            "required": draw(st.booleans()),
        }
        if kind == "scale":
            item["scale"] = "s"
            item["direction"] = draw(st.sampled_from(["higher_is_worse", "higher_is_better"]))
        elif kind == "choice":
            item["options"] = [
                {"value": f"o{i}", "label": {"sv": draw(words), "en": draw(words)}}
                for i in range(draw(st.integers(2, 5)))
            ]
        else:
            item["not_applicable"] = draw(st.booleans())
        items.append(item)
    return QuestionSet.model_validate(
        {
            "id": draw(keys),
            "title": {"sv": draw(words), "en": draw(words)},
            "languages": ["sv", "en"],
            "max_items_per_checkin": 20,
            "constructs": {"c": {"label": {"sv": "c", "en": "c"}}},
            "scales": {"s": scale},
            "items": items,
        }
    )


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(question_sets())
def test_yaml_round_trip(question_set: QuestionSet) -> None:
    text = dump_question_set(question_set)
    again = load_question_set(text)
    assert again == question_set
    assert dump_question_set(again) == text


# --- versions and trend lineage --------------------------------------------------------------


def test_import_versions_and_lineage(db) -> None:
    first = import_question_set(db, load_question_set(MINIMAL))
    assert (first.version, first.created, first.active) == (1, True, True)
    same = import_question_set(db, load_question_set(MINIMAL))
    assert (same.version, same.created) == (1, False)

    reworded = MINIMAL.replace("How stressed?", "How tense?")
    second = import_question_set(db, load_question_set(reworded))
    assert second.version == 2
    assert second.trend_breaks == {"stress": "wording changed without 'same_meaning: true'"}

    flagged = reworded.replace("How tense?", "How tense were you?").replace(
        "    direction: higher_is_worse", "    direction: higher_is_worse\n    same_meaning: true"
    )
    third = import_question_set(db, load_question_set(flagged))
    assert third.trend_breaks == {}
    v2, _ = load_version(db, "tiny", 2)
    v3, _ = load_version(db, "tiny", 3)
    assert v3.lineage["stress"] == v2.lineage["stress"] == "tiny/stress/v2"

    relabelled = flagged.replace("en: [a, b, c, d, e]", "en: [a, b, c, d, f]")
    fourth = import_question_set(db, load_question_set(relabelled))
    assert fourth.trend_breaks == {"stress": "answer labels changed (en)"}
    summary = list_question_sets(db)
    assert [(s.set_id, s.versions, s.active_version) for s in summary] == [("tiny", 4, 4)]


def test_importing_without_activation_keeps_rounds_on_the_active_version(db) -> None:
    import_question_set(db, load_question_set(MINIMAL))
    result = import_question_set(
        db, load_question_set(MINIMAL.replace("How stressed?", "How tense?")), activate=False
    )
    assert (result.version, result.active) == (2, False)
    row, _ = load_version(db, "tiny")
    assert row.version == 1


def test_rotation_lcm_is_what_the_check_walks() -> None:
    qs = load_question_set_file(DEFAULT)
    assert math.lcm(*(i.cadence for i in qs.items)) == 4


def test_hostile_yaml_is_refused_fast_and_clearly(tmp_path) -> None:
    """341 bytes of nested aliases would expand to billions of values; 3,000 levels of nesting
    would exhaust the stack; an alias inside itself would never end; a directory is no file."""
    from survey.questions import load_question_set, load_question_set_file
    from survey.questions.loader import QuestionSetError

    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)
    )
    cases = {
        "billion laughs": (laughs, "expands to more than"),
        "deep": ("x: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than"),
        "recursive": ("a: &a [*a]\n", "refers to itself"),
    }
    for name, (text, message) in cases.items():
        with pytest.raises(QuestionSetError, match=message):
            load_question_set(text, source=name)
    with pytest.raises(QuestionSetError, match="is a directory"):
        load_question_set_file(tmp_path)
