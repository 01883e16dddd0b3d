"""Round statistics: from a closed round's answers to the figures that may be published.

Runs once per round, at close. The answers are counted per unit and rolled up to every ancestor
in the round's scope; then disclosure control decides, measure by measure, what may be shown;
only that is returned (and stored), already audited. Reports read these figures, never answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aggregation.disclosure import Tree, audit, rolled_up, suppress
from survey.questions.model import Item, QuestionSet


class DisclosureAuditError(RuntimeError):
    """The audit found a publishable figure that isolates fewer than k people. Never expected;
    raised instead of publishing anything."""


@dataclass(frozen=True)
class ItemInfo:
    """What statistics need to know about one asked item (from its question-set version)."""

    key: str
    lineage: str
    construct: str
    type: str
    values: tuple[Any, ...]
    #: 0-100 score per answer value for scored scale items, oriented to the construct's index.
    index_scores: Mapping[Any, float] | None
    #: 0-100 score per answer value on the item's own scale (for its mean), scales only.
    scores: Mapping[Any, float] | None
    unfavourable: frozenset[Any]


def item_infos(
    sets: Sequence[tuple[QuestionSet, Mapping[str, str]]], asked: Sequence[str]
) -> list[ItemInfo]:
    """Describe the asked items from their sets (with each set version's lineage map)."""
    infos = []
    for question_set, lineage in sets:
        for item in question_set.items:
            if item.key in asked:
                infos.append(_info(question_set, lineage, item))
    return infos


def _info(question_set: QuestionSet, lineage: Mapping[str, str], item: Item) -> ItemInfo:
    values = tuple(question_set.answer_values(item))
    scores = index_scores = None
    if item.type == "scale":
        low, high = min(values), max(values)  # type: ignore[type-var]
        scores = {v: (v - low) / (high - low) * 100 for v in values}  # type: ignore[operator]
        construct = question_set.constructs[item.construct_key]
        if item.direction != "descriptive":
            same = (item.direction == "higher_is_worse") == (
                construct.index_direction == "higher_is_worse"
            )
            index_scores = {v: s if same else 100 - s for v, s in scores.items()}
    return ItemInfo(
        key=item.key,
        lineage=lineage.get(item.key, item.key),
        construct=item.construct_key,
        type=item.type,
        values=values,
        index_scores=index_scores,
        scores=scores,
        unfavourable=frozenset(item.unfavourable),
    )


def round_figures(
    *,
    tree: Tree,
    answers: Sequence[tuple[int, Mapping[str, Any]]],
    items: Sequence[ItemInfo],
    members: Mapping[int, int],
    k: int,
    spread_k: int,
) -> dict[int, dict[str, Any]]:
    """Published figures per unit of the round's scope ({"shown": False} where hidden)."""
    units = list(tree.parent)
    scopes = {unit: [unit, *tree.ancestors(unit)] for unit in units}
    frame = pd.DataFrame(
        [{"_unit": unit, **{i.key: a.get(i.key) for i in items}} for unit, a in answers],
        columns=["_unit", *[i.key for i in items]],
    )
    frame = frame[frame["_unit"].isin(scopes)]
    frame["_scope"] = frame["_unit"].map(scopes)
    frame = frame.explode("_scope").reset_index(drop=True)
    by_scope = frame.groupby("_scope")

    respondents = _series_to_dict(by_scope.size())
    shown = suppress(tree, respondents, k)
    _require_clean(tree, {u: respondents[u] for u in shown}, k, "respondents")
    member_totals = rolled_up(tree, members)

    figures: dict[int, dict[str, Any]] = {
        unit: (
            {
                "shown": True,
                "respondents": respondents[unit],
                "members": member_totals.get(unit, 0),
                "items": {},
                "constructs": {},
            }
            if unit in shown
            else {"shown": False}
        )
        for unit in units
    }
    # Which indices this round could have (rotation asks some constructs only every few weeks),
    # so a report tells "not asked this round" from "hidden: fewer than k answers".
    asked = sorted({i.construct for i in items if i.index_scores is not None})
    for unit in units:  # the tree as it was at close, so later audits judge the same tree
        figures[unit]["parent"] = tree.parent[unit]
        figures[unit]["asked"] = asked

    for item in items:
        column = frame[["_scope", item.key]].dropna()
        answered = _series_to_dict(column.groupby("_scope").size())
        item_shown = suppress(tree, answered, k, candidates=shown)
        spread_shown = suppress(tree, answered, spread_k, candidates=item_shown)
        _require_clean(tree, {u: answered[u] for u in item_shown}, k, item.key)
        _require_clean(tree, {u: answered[u] for u in spread_shown}, spread_k, item.key)
        counts = column.groupby(["_scope", item.key]).size()
        sums = None
        if item.scores is not None:
            scored = column[item.key].map(item.scores)
            sums = _series_to_dict(scored.groupby(column["_scope"]).sum(), float)
        unfavourable = _series_to_dict(
            column[item.key].isin(item.unfavourable).groupby(column["_scope"]).sum()
        )
        for unit in item_shown:
            figure: dict[str, Any] = {"n": answered[unit], "lineage": item.lineage}
            if sums is not None:
                figure["mean_score"] = round(sums[unit] / answered[unit], 2)
            if unit in spread_shown:
                per_value = {str(v): int(counts.get((unit, v), 0)) for v in item.values}
                figure["counts"] = per_value
                if item.unfavourable:
                    share = unfavourable.get(unit, 0) / answered[unit]
                    figure["unfavourable_share"] = round(share, 4)
            figures[unit]["items"][item.key] = figure

    constructs = sorted({i.construct for i in items if i.index_scores is not None})
    for construct in constructs:
        members_of = [i for i in items if i.construct == construct and i.index_scores is not None]
        # A person's construct index: the mean of their scored items in it (skipped ones aside).
        per_person = pd.concat([frame[i.key].map(i.index_scores) for i in members_of], axis=1).mean(
            axis=1, skipna=True
        )
        scored_frame = pd.DataFrame({"_scope": frame["_scope"], "score": per_person}).dropna()
        n = _series_to_dict(scored_frame.groupby("_scope").size())
        total = _series_to_dict(scored_frame.groupby("_scope")["score"].sum(), float)
        construct_shown = suppress(tree, n, k, candidates=shown)
        _require_clean(tree, {u: n[u] for u in construct_shown}, k, construct)
        for unit in construct_shown:
            figures[unit]["constructs"][construct] = {
                "n": n[unit],
                "index": round(total[unit] / n[unit], 1),
            }
    return figures


def _series_to_dict(series: pd.Series, cast: type = int) -> dict[Any, Any]:
    return {key: cast(value) for key, value in series.items()}


def _require_clean(tree: Tree, published: Mapping[int, int], k: int, measure: str) -> None:
    problems = audit(tree, published, k)
    if problems:
        # Name the unit, not the group size: the message ends up in logs (P6).
        raise DisclosureAuditError(
            f"{measure}: the audit found a group below k around unit {problems[0].unit}"
        )
