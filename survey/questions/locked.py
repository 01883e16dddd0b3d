"""What a round asks, as locked when it opened, and checking a check-in against it.

A round stores its items as plain data (``SurveyRound.items``) so that a later change to a
question set can never change what an old round meant (P7). Every answer type reduces to a closed
list of allowed values, which is also what the sealed payload may contain.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from survey.questions.model import QuestionSet, items_for_round

AnswerValue = int | str


class LockedItem(BaseModel):
    """One item of a round: its stable key, the values it accepts, and whether it may be skipped."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ignored_types=(functools.cached_property,)
    )

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    options: tuple[StrictInt | StrictStr, ...] = ()
    required: bool = True
    #: A free-text item: any non-empty text up to ``max_length`` characters instead of options.
    text: bool = False
    max_length: int = Field(default=500, ge=1, le=1500)
    #: The question_set_version row the item comes from (None for ad-hoc and follow-up items).
    version_id: int | None = None
    #: A follow-up question: the title of the action it asks about (survey.actions).
    followup: str | None = Field(default=None, max_length=200)
    #: Only members of these units are asked (a follow-up: the action's unit and sub-units).
    units: tuple[int, ...] | None = None

    def asks(self, unit_id: int) -> bool:
        """Whether a member of ``unit_id`` is asked this item."""
        return self.units is None or unit_id in self.units

    @model_validator(mode="after")
    def _options_or_text(self) -> LockedItem:
        if not self.text and len(self.options) < 2:
            raise ValueError("an item needs at least two options (or text: true)")
        if self.text and self.options:
            raise ValueError("a text item has no options")
        return self

    @field_validator("options", mode="before")
    @classmethod
    def _no_booleans(cls, options: Any) -> Any:
        if isinstance(options, list | tuple) and any(isinstance(o, bool) for o in options):
            raise ValueError("options must be numbers or codes, not true/false")
        return options

    @field_validator("options")
    @classmethod
    def _distinct(cls, options: tuple[AnswerValue, ...]) -> tuple[AnswerValue, ...]:
        if len(set(options)) != len(options):
            raise ValueError("options must be distinct")
        return options

    @functools.cached_property
    def _allowed(self) -> frozenset[tuple[type, AnswerValue]]:
        # Exact type match: True must not pass for 1, nor 1.0 for 1, nor "1" for 1.
        return frozenset((type(option), option) for option in self.options)

    def allows(self, value: object) -> bool:
        if self.text:
            return isinstance(value, str) and 0 < len(value.strip()) <= self.max_length
        try:
            return (type(value), value) in self._allowed
        except TypeError:  # unhashable, e.g. a list: certainly not an option
            return False


class InvalidAnswersError(ValueError):
    """A check-in does not fit the round's locked items; ``problems`` says each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def parse_items(raw: Sequence[Mapping[str, Any]]) -> tuple[LockedItem, ...]:
    """Items as a round stored them; parsed once per distinct item list, since a round's items
    never change after it opened (P7) and every submit of the round needs them."""
    return _parse_items_cached(json.dumps(raw, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _parse_items_cached(raw_json: str) -> tuple[LockedItem, ...]:
    items = tuple(LockedItem.model_validate(entry) for entry in json.loads(raw_json))
    keys = [item.key for item in items]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate item keys: {', '.join(duplicates)}")
    if not items:
        raise ValueError("a round must ask at least one item")
    return items


def validate_answers(items: Sequence[LockedItem], answers: object) -> dict[str, AnswerValue]:
    """Return the answers in item order, or raise with every problem found (not just the first)."""
    if not isinstance(answers, Mapping):
        raise InvalidAnswersError(["answers must be a mapping of item key to value"])
    by_key = {item.key: item for item in items}
    problems: list[str] = []
    for key in answers:
        if key not in by_key:
            problems.append(f"unknown item {key!r}: this round does not ask it")
    clean: dict[str, AnswerValue] = {}
    for item in items:
        if item.key not in answers or answers[item.key] is None:
            if item.required:
                problems.append(f"item {item.key!r} is required")
            continue
        value = answers[item.key]
        if not item.allows(value):
            if item.text:
                allowed = f"text of 1 to {item.max_length} characters"
            else:
                allowed = ", ".join(str(o) for o in item.options)
            shown = value if not isinstance(value, str) or len(value) < 40 else value[:37] + "..."
            problems.append(f"item {item.key!r}: {shown!r} is not allowed (allowed: {allowed})")
            continue
        clean[item.key] = value.strip() if item.text else value
    if problems:
        raise InvalidAnswersError(problems)
    if not clean:
        raise InvalidAnswersError(["a check-in must answer at least one item"])
    return clean


#: Seconds a person needs for one button question, and for a free-text one (reading, thinking,
#: typing on a phone): the basis of the time an invitation promises.
SECONDS_PER_CHOICE = 6
SECONDS_PER_TEXT = 30


def estimated_minutes(items: Sequence[LockedItem]) -> int:
    """Whole minutes a check-in takes, rounded up: 1 means "under a minute"."""
    seconds = sum(SECONDS_PER_TEXT if item.text else SECONDS_PER_CHOICE for item in items)
    return max(1, -(-seconds // 60))


def lock_items(sets: Sequence[tuple[int, QuestionSet]], sequence: int) -> list[LockedItem]:
    """What the ``sequence``-th round of a schedule asks, from its sets' active versions."""
    locked: list[LockedItem] = []
    for version_id, question_set in sets:
        for item in items_for_round(question_set, sequence):
            locked.append(
                LockedItem(
                    key=item.key,
                    options=tuple(question_set.answer_values(item)),
                    required=item.required,
                    text=item.type == "text",
                    max_length=item.max_length,
                    version_id=version_id,
                )
            )
    keys = [item.key for item in locked]
    clashes = sorted({key for key in keys if keys.count(key) > 1})
    if clashes:
        raise ValueError(f"question sets of one schedule share item keys: {', '.join(clashes)}")
    return locked
