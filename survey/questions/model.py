"""The question-set file format: what admins write in YAML and what rounds lock in.

Pydantic checks each field's shape; ``check_consistency`` then checks what spans fields (every
text in every language, scales and their labels, known constructs, unique keys), returning
problems with the exact path so the loader can point at the line in the admin's file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from survey.phrases import N_, Phrase, phrase
from survey.settings import SUPPORTED_LANGUAGES

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
SetId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,59}$")]
Language = Literal["sv", "en"]
Texts = dict[Language, Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]]
ItemType = Literal["scale", "choice", "yes_no", "text"]
YES_NO_VALUES = ("yes", "no")
NOT_APPLICABLE = "na"
BUILTIN_LABELS: dict[str, dict[str, str]] = {
    "yes": {"sv": "Ja", "en": "Yes"},
    "no": {"sv": "Nej", "en": "No"},
    NOT_APPLICABLE: {"sv": "Ej aktuellt", "en": "Not applicable"},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    """Labelled points, e.g. a 5-point frequency scale or 0-10."""

    values: list[int] = Field(min_length=2, max_length=11)
    labels: dict[Language, list[Annotated[str, StringConstraints(min_length=1)]]]


class ChoiceOption(_Strict):
    value: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_<>=+.-]{1,20}$")]
    label: Texts


class Construct(_Strict):
    label: Texts
    #: How the construct's 0-100 index reads: "higher_is_worse" (demands, stress) or
    #: "higher_is_better" (support, meaning). Items are reverse-scored into this direction.
    index_direction: Literal["higher_is_worse", "higher_is_better"] = "higher_is_worse"


class AlertRule(_Strict):
    """A unit-level signal for managers, evaluated on released statistics (aggregation)."""

    kind: Literal["share_unfavourable", "index_at_least", "index_at_most", "index_drop"]
    #: share_unfavourable: a share 0-1; index_at_least/at_most: 0-100; index_drop: points.
    threshold: float = Field(ge=0, le=100)
    consecutive_rounds: int = Field(default=1, ge=1, le=8)
    advice: Texts


class Item(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    key: Key
    #: Which construct (index) the item feeds; "construct" in YAML.
    construct_key: Key = Field(alias="construct")
    type: ItemType
    text: Texts
    #: scale: name of a scale of this set.
    scale: Key | None = None
    #: choice: the options in their natural order (bands low to high).
    options: list[ChoiceOption] | None = None
    #: yes_no: whether "not applicable" is offered.
    not_applicable: bool = True
    #: Scoring: for scales, whether a higher value is worse; "descriptive" items have no index.
    direction: Literal["higher_is_worse", "higher_is_better", "descriptive"] = "descriptive"
    #: Answers that count as unfavourable ("46 % often could not finish their tasks").
    unfavourable: list[int | str] = Field(default_factory=list)
    #: Asked every round (1), every 2nd round (2), every 4th (4), ...
    cadence: int = Field(default=1, ge=1, le=12)
    #: Which of the cadence's rounds asks it (0-based). Default: items sharing a cadence are
    #: spread over its rounds; a pack that must be answered together (WHO-5) pins one phase.
    phase: int | None = Field(default=None, ge=0, le=11)
    required: bool = True
    #: Set when only the wording changed since the previous version: trends continue across it.
    same_meaning: bool = False
    #: text items only: longest accepted comment.
    max_length: int = Field(default=500, ge=1, le=1500)
    alerts: list[AlertRule] = Field(default_factory=list)


class QuestionSet(_Strict):
    id: SetId
    title: Texts
    languages: list[Language] = Field(min_length=1)
    attribution: Texts | None = None
    #: Most items one check-in may ask; rotation (cadence) must keep every round within it.
    max_items_per_checkin: int = Field(default=6, ge=1, le=20)
    #: Free-text comments are off unless a set turns them on (P6: shown only from 10 answers).
    allow_free_text: bool = False
    constructs: dict[Key, Construct]
    scales: dict[Key, Scale] = Field(default_factory=dict)
    items: list[Item] = Field(min_length=1, max_length=60)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def answer_values(self, item: Item) -> list[int | str]:
        """The values an answer to ``item`` may take, in display order."""
        if item.type == "scale":
            return list(self.scales[item.scale or ""].values)
        if item.type == "choice":
            return [option.value for option in item.options or []]
        if item.type == "yes_no":
            return [*YES_NO_VALUES, *([NOT_APPLICABLE] if item.not_applicable else [])]
        return []

    def answer_labels(self, item: Item, language: str) -> list[str]:
        if item.type == "scale":
            return list(self.scales[item.scale or ""].labels[language])  # type: ignore[index]  # callers pass a language the set was checked to have
        if item.type == "choice":
            return [option.label[language] for option in item.options or []]  # type: ignore[index]  # as above
        return [BUILTIN_LABELS[str(v)][language] for v in self.answer_values(item)]


Path = tuple[str | int, ...]


def check_consistency(qs: QuestionSet) -> list[tuple[Path, Phrase]]:
    """Problems that span fields, each with the path of the value to fix.

    Long because it is a flat list of independent checks, each with its own message and path: split,
    they would only be harder to find.
    """
    problems: list[tuple[Path, Phrase]] = []
    languages = set(qs.languages)
    allowed_languages = ", ".join(qs.languages)

    def need_languages(texts: Mapping[Language, object] | None, path: Path) -> None:
        if texts is None:
            return
        for missing in sorted(languages - set(texts)):
            problems.append(
                (
                    path,
                    phrase(
                        N_("missing translation for '{missing}' (this set's languages: {all})"),
                        missing=missing,
                        all=allowed_languages,
                    ),
                )
            )

    if len(set(qs.languages)) != len(qs.languages):
        problems.append((("languages",), phrase(N_("a language is listed twice"))))
    for language in qs.languages:
        if language not in SUPPORTED_LANGUAGES:
            problems.append(
                (("languages",), phrase(N_("unsupported language '{language}'"), language=language))
            )
    need_languages(qs.title, ("title",))
    need_languages(qs.attribution, ("attribution",))
    for name, construct in qs.constructs.items():
        need_languages(construct.label, ("constructs", name, "label"))
    for name, scale in qs.scales.items():
        if len(set(scale.values)) != len(scale.values):
            problems.append(
                (("scales", name, "values"), phrase(N_("scale values must be distinct")))
            )
        need_languages(scale.labels, ("scales", name, "labels"))
        for language, labels in scale.labels.items():
            if len(labels) != len(scale.values):
                problems.append(
                    (
                        ("scales", name, "labels", language),
                        phrase(
                            N_(
                                "{labels} labels for {points} scale points; give exactly one "
                                "label per value {values}"
                            ),
                            labels=len(labels),
                            points=len(scale.values),
                            values=scale.values,
                        ),
                    )
                )
    seen: dict[str, int] = {}
    for index, item in enumerate(qs.items):
        path: Path = ("items", index)
        if item.key in seen:
            problems.append(
                (
                    (*path, "key"),
                    phrase(
                        N_("duplicate item key '{key}' (also item {n})"),
                        key=item.key,
                        n=seen[item.key] + 1,
                    ),
                )
            )
        seen.setdefault(item.key, index)
        need_languages(item.text, (*path, "text"))
        if item.phase is not None and item.phase >= item.cadence:
            problems.append(
                (
                    (*path, "phase"),
                    phrase(N_("phase must be below the cadence ({cadence})"), cadence=item.cadence),
                )
            )
        if item.construct_key not in qs.constructs:
            known = ", ".join(sorted(qs.constructs)) or "–"
            problems.append(
                (
                    (*path, "construct"),
                    phrase(
                        N_("unknown construct '{construct}' (declared constructs: {known})"),
                        construct=item.construct_key,
                        known=known,
                    ),
                )
            )
        problems.extend(_check_item_type(qs, item, path, need_languages))
        for alert_index, alert in enumerate(item.alerts):
            need_languages(alert.advice, (*path, "alerts", alert_index, "advice"))
            if alert.kind == "share_unfavourable":
                if alert.threshold > 1:
                    problems.append(
                        (
                            (*path, "alerts", alert_index, "threshold"),
                            phrase(
                                N_("share_unfavourable takes a share between 0 and 1, e.g. 0.4")
                            ),
                        )
                    )
                if not item.unfavourable:
                    problems.append(
                        (
                            (*path, "alerts", alert_index, "kind"),
                            phrase(
                                N_("share_unfavourable needs the item's 'unfavourable' answers")
                            ),
                        )
                    )
    problems.extend(_check_rotation(qs))
    return problems


def _check_item_type(
    qs: QuestionSet,
    item: Item,
    path: Path,
    need_languages: Callable[[Mapping[Language, object] | None, Path], None],
) -> list[tuple[Path, Phrase]]:
    """Problems of one item's type (scale, choice, text) and its options. Long because it is a flat
    list of independent checks, each with its own message and path."""
    problems: list[tuple[Path, Phrase]] = []
    if item.type == "scale":
        if item.scale is None:
            problems.append(
                ((*path, "scale"), phrase(N_("a scale item needs 'scale: <name of a scale>'")))
            )
        elif item.scale not in qs.scales:
            known = ", ".join(sorted(qs.scales)) or "–"
            problems.append(
                (
                    (*path, "scale"),
                    phrase(
                        N_("unknown scale '{scale}' (scales: {known})"),
                        scale=item.scale,
                        known=known,
                    ),
                )
            )
    elif item.scale is not None:
        problems.append(
            (
                (*path, "scale"),
                phrase(N_("'scale' is only for scale items, not {type}"), type=item.type),
            )
        )
    if item.type == "choice":
        if not item.options or len(item.options) < 2:
            problems.append(
                ((*path, "options"), phrase(N_("a choice item needs at least two options")))
            )
        else:
            values = [option.value for option in item.options]
            if len(set(values)) != len(values):
                problems.append(((*path, "options"), phrase(N_("option values must be distinct"))))
            for option_index, option in enumerate(item.options):
                need_languages(option.label, (*path, "options", option_index, "label"))
    elif item.options is not None:
        problems.append(
            (
                (*path, "options"),
                phrase(N_("'options' is only for choice items, not {type}"), type=item.type),
            )
        )
    if item.type == "text":
        if not qs.allow_free_text:
            problems.append(
                (
                    (*path, "type"),
                    phrase(
                        N_(
                            "free text is off for this set: set 'allow_free_text: true' to ask "
                            "it (comments are shown only after the round closes and from 10 "
                            "answers)"
                        )
                    ),
                )
            )
        if item.direction != "descriptive" or item.unfavourable:
            problems.append(
                ((*path, "type"), phrase(N_("text items are descriptive and have no scoring")))
            )
    elif item.type in ("scale", "choice") and (item.scale in qs.scales or item.options):
        allowed = qs.answer_values(item)
        for value in item.unfavourable:
            if value not in allowed:
                problems.append(
                    (
                        (*path, "unfavourable"),
                        phrase(
                            N_("'{value}' is not an answer of this item (answers: {allowed})"),
                            value=value,
                            allowed=", ".join(map(str, allowed)),
                        ),
                    )
                )
    elif item.type == "yes_no":
        for value in item.unfavourable:
            if value not in qs.answer_values(item):
                problems.append(
                    (
                        (*path, "unfavourable"),
                        phrase(N_("'{value}' is not yes, no or na"), value=value),
                    )
                )
    if item.direction != "descriptive" and item.type != "scale":
        problems.append(
            (
                (*path, "direction"),
                phrase(N_("only scale items are scored into an index; use 'descriptive'")),
            )
        )
    return problems


def _check_rotation(qs: QuestionSet) -> list[tuple[Path, Phrase]]:
    cycle = math.lcm(*(item.cadence for item in qs.items))
    for round_index in range(cycle):
        asked = items_for_round(qs, round_index)
        if len(asked) > qs.max_items_per_checkin:
            return [
                (
                    ("max_items_per_checkin",),
                    phrase(
                        N_(
                            "round {round} of the rotation would ask {n} items ({keys}), more "
                            "than max_items_per_checkin {limit}: raise it or lengthen some "
                            "cadences"
                        ),
                        round=round_index + 1,
                        n=len(asked),
                        keys=", ".join(i.key for i in asked),
                        limit=qs.max_items_per_checkin,
                    ),
                )
            ]
    return []


def items_for_round(qs: QuestionSet, round_index: int) -> list[Item]:
    """The items asked in the ``round_index``-th round (0-based) of a schedule.

    An item with cadence c is asked every c-th round; items sharing a cadence are spread over the
    c possible phases in file order, so a 2-week pack of six items asks three each week rather
    than six every other week.
    """
    position: dict[int, int] = {}
    asked = []
    for item in qs.items:
        if item.phase is not None:
            phase = item.phase
        else:
            phase = position.get(item.cadence, 0) % item.cadence
            position[item.cadence] = position.get(item.cadence, 0) + 1
        if round_index % item.cadence == phase:
            asked.append(item)
    return asked
