"""Round statistics: from a closed round's answers to the figures that may be published.

Runs once per round, at close. The answers are counted per unit and rolled up to every ancestor
in the round's scope; then disclosure control decides, measure by measure, what may be shown;
only that is returned (and stored), already audited by the block audit here and by the
independent pinning audit (``aggregation.pinning``) in ``close``. Reports read these figures,
never answers.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aggregation.disclosure import Tree, audit, blocks, rolled_up, suppress
from aggregation.pinning import ItemScale
from survey.figures import ConstructFigure, RoundFigures, UnitFigure
from survey.grouping import OUTSIDER, kept_answers, min_block, release_plan
from survey.questions.locked import LockedItem
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
        low, high = min(values), max(values)
        scores = {v: (v - low) / (high - low) * 100 for v in values}  # type: ignore[operator]  # a scale's values are ints (the model checks it)
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


def followup_infos(locked: Sequence[LockedItem]) -> list[ItemInfo]:
    """The follow-up questions of a round (survey.actions): a five-point scale each, its mean
    published like an item's and its "little or no difference" share like an unfavourable
    share; they belong to no construct, so no index is made of them."""
    infos = []
    for item in locked:
        if item.followup is None:
            continue
        values = tuple(item.options)
        scores = {v: i / (len(values) - 1) * 100 for i, v in enumerate(values)}
        infos.append(
            ItemInfo(
                key=item.key,
                lineage=item.key,
                construct="",
                type="scale",
                values=values,
                index_scores=scores,
                scores=scores,
                unfavourable=frozenset(values[:2]),
            )
        )
    return infos


def item_constructs(infos: Sequence[ItemInfo]) -> dict[str, str]:
    """Item -> the area whose index is built from its mean (items that feed an index only)."""
    return {info.key: info.construct for info in infos if info.index_scores is not None}


def item_scales(infos: Sequence[ItemInfo]) -> list[ItemScale]:
    """The items as the pinning audit sees them: index scores and unfavourable answers."""
    return [
        ItemScale(
            key=info.key,
            scores=(
                tuple(float(info.index_scores[v]) for v in info.values)
                if info.index_scores is not None
                else None
            ),
            unfavourable=tuple(v in info.unfavourable for v in info.values),
        )
        for info in infos
    ]


def round_figures(
    *,
    tree: Tree,
    answers: Sequence[tuple[int, str, Mapping[str, Any]]],
    items: Sequence[ItemInfo],
    members: Mapping[int, int],
    k: int,
    spread_k: int,
    known: int,
    participation: Mapping[int, UnitFigure] | None = None,
) -> RoundFigures:
    """Published figures per unit of the round's scope ({"shown": False} where hidden).

    ``answers`` are (unit, response id, answers); ``members`` the members attached to each unit
    when the round opened; ``known`` the insider's J (docs/privacy.md: the participation of up
    to J other members a reader may know). Where the release already stored the answers by group,
    ``participation`` is what it decided (``survey.grouping.release_plan``) and each answer's
    unit is its group. The rules, in order (docs/privacy.md):

    1. which units can be shown at all comes from the roster (``structure``), then the
       respondents' gate decides which are shown this round (``gate``);
    2. each group (block) is published with at most its cap of respondents (below everyone):
       answers above it are left out (the lowest random ids), so "everyone answered" is never
       published and nobody's participation is pinned;
    3. every figure is built from blocks ("atoms": a shown unit minus its shown descendants) and
       an atom's extreme value is published only as a range that also fits a group in which
       someone other than any one respondent answered differently, so that neither a
       subtraction of published figures nor a respondent who knows their own answer pins
       anyone else's;
    4. a construct's index is the mean of its items' means, so it adds nothing to them.

    Long because the rules above are applied in one place, in their order, so that a reviewer can
    check each step against docs/privacy.md.
    """
    in_scope = [(unit, rid, a) for unit, rid, a in answers if unit in tree.parent]
    if participation is None:  # answers still by unit: group them as the release would
        plan = release_plan(tree, members, Counter(unit for unit, _, _ in in_scope), k, known)
        groups = kept_answers(plan, [(unit, rid) for unit, rid, _ in in_scope])
        in_scope = [(groups[rid], rid, a) for _, rid, a in in_scope if rid in groups]
        participation = plan.figures
    figures = _with_measures(participation)
    shown = {unit for unit, figure in figures.items() if figure["shown"]}
    _require_clean(
        tree, {u: figures[u]["members"] for u in shown}, min_block(k, known), "structure"
    )
    _require_clean(tree, {u: figures[u]["respondents"] for u in shown}, k, "respondents")
    frame = pd.DataFrame(
        [{"_unit": unit, **{i.key: a.get(i.key) for i in items}} for unit, _, a in in_scope],
        columns=["_unit", *[i.key for i in items]],
    )
    asked = sorted({i.construct for i in items if i.index_scores is not None and i.construct})
    for figure in figures.values():
        figure["asked"] = asked

    for item in items:
        column = frame[["_unit", item.key]].dropna()
        answered = rolled_up(tree, _series_to_dict(column.groupby("_unit").size()))
        item_shown = suppress(tree, answered, k, candidates=shown)
        spread_shown = suppress(tree, answered, spread_k, candidates=item_shown)
        _require_clean(tree, {u: answered[u] for u in item_shown}, k, item.key)
        _require_clean(tree, {u: answered[u] for u in spread_shown}, spread_k, item.key)
        for unit in item_shown:
            figures[unit]["items"][item.key] = {"n": answered[unit], "lineage": item.lineage}
        if item.index_scores is not None:
            scores = column[item.key].map(item.index_scores)
            step = 100 / (len(item.values) - 1)
            means = _ranged(
                tree,
                item_shown,
                column["_unit"].tolist(),
                scores.tolist(),
                functools.partial(_mean_band_of_total, step=step, insider=known != OUTSIDER),
            )
            for unit, (_, low, high) in means.items():
                figures[unit]["items"][item.key]["mean"] = list(_published_range(low, high, 2))
        if item.unfavourable:
            flags = column[item.key].isin(item.unfavourable).astype(float)
            shares = _ranged(
                tree,
                spread_shown,
                column["_unit"].tolist(),
                flags.tolist(),
                lambda total, n: share_band(total / n, n, insider=known != OUTSIDER),
            )
            for unit, (_, low, high) in shares.items():
                low, high = _published_range(low, high, 4)
                entry = figures[unit]["items"][item.key]
                entry["unfavourable_share"] = round((low + high) / 2, 4)
                if high > low:
                    entry["unfavourable_range"] = [low, high]

    for construct in asked:
        keys = [i.key for i in items if i.construct == construct and i.index_scores is not None]
        for unit in shown:
            unit_items = figures[unit]["items"]
            ranges = [unit_items[key]["mean"] for key in keys if "mean" in unit_items.get(key, {})]
            if len(ranges) < len(keys):
                continue
            low = sum(r[0] for r in ranges) / len(ranges)
            high = sum(r[1] for r in ranges) / len(ranges)
            index: ConstructFigure = {
                "n": min(unit_items[key]["n"] for key in keys),
                "index": round((low + high) / 2, 1),
            }
            if high - low > 1e-9:
                index["range"] = list(_published_range(low, high, 1))
            figures[unit]["constructs"][construct] = index
    return figures


def _mean_band_of_total(total: float, n: int, step: float, insider: bool) -> tuple[float, float]:
    return mean_band(total / n, n, step, insider=insider)


def mean_band(mean: float, n: int, step: float, *, insider: bool = True) -> tuple[float, float]:
    """The published range of a group's mean score (0-100): the mean itself, or, where it is so
    extreme that all but one could have given the same answer, a range.

    The range must pin nobody even for a respondent who knows their own answer (the insider):
    if everyone else gave the most extreme answer and the insider the least extreme one, the
    group's mean is 100 - 100/n; the range starts low enough to also hold the group in which,
    besides that, one other person answered one step less extreme: 100 - (100 + step)/n. Never
    narrower than 90-100 (or 0-10), so that a range always reads as one.

    Rounds published by a version before the insider rules (``insider=False``) keep the range
    they were published with: one person one step less extreme, 100 - step/n."""
    reach = (100.0 + step) / n if insider else step / n
    high = min(90.0, 100.0 - reach)
    low = max(10.0, reach)
    if mean >= high:
        return high, 100.0
    if mean <= low:
        return 0.0, low
    return mean, mean


def share_band(share: float, n: int, *, insider: bool = True) -> tuple[float, float]:
    """The published range of a group's share of unfavourable answers, capped like a mean: it
    also holds the group in which two fewer (or more) answered unfavourably, the insider and one
    other, so that an insider with a favourable answer cannot tell that all others were not."""
    others = 2 if insider else 1
    high = min(0.9, (n - others) / n)
    low = max(0.1, others / n)
    if share >= high:
        return high, 1.0
    if share <= low:
        return 0.0, low
    return share, share


def _ranged(
    tree: Tree,
    shown: set[int],
    units: Sequence[int],
    values: Sequence[float],
    band: Callable[[float, int], tuple[float, float]],
) -> dict[int, tuple[int, float, float]]:
    """(n, low, high) per shown unit: each atom (a shown unit's own block) gets its band, and a
    unit's range is the weighted sum of the atoms below it, so subtracting published figures
    yields atoms' bands and never more."""
    owner = blocks(tree, shown)
    atom_n: Counter[int] = Counter()
    atom_total: dict[int, float] = {}
    for unit, value in zip(units, values, strict=True):
        atom = owner.get(unit)
        if atom is None:
            continue
        atom_n[atom] += 1
        atom_total[atom] = atom_total.get(atom, 0.0) + float(value)
    # Each atom's band counts in its own unit and every shown unit above it.
    sums: dict[int, list[float]] = {}
    for atom, n in atom_n.items():
        low, high = band(atom_total[atom], n)
        for unit in (atom, *(a for a in tree.ancestors(atom) if a in shown)):
            total = sums.setdefault(unit, [0, 0.0, 0.0])
            total[0] += n
            total[1] += n * low
            total[2] += n * high
    return {unit: (int(n), low / n, high / n) for unit, (n, low, high) in sums.items() if n}


def _published_range(low: float, high: float, digits: int) -> tuple[float, float]:
    """A point as rounded; a range rounded outwards, so it still holds the true value."""
    if high - low <= 1e-9:
        value = round(low, digits)
        return value, value
    scale = 10**digits
    return math.floor(low * scale + 1e-9) / scale, math.ceil(high * scale - 1e-9) / scale


def participation_figures(
    tree: Tree, members: Mapping[int, int], answered: Mapping[int, int], k: int, known: int
) -> tuple[RoundFigures, dict[int, int]]:
    """Which units are shown and how many answered, as published, and per group how many
    answers are left out (``survey.grouping.release_plan``)."""
    plan = release_plan(tree, members, answered, k, known)
    return _with_measures(plan.figures), plan.left_out


def _with_measures(participation: Mapping[int, UnitFigure]) -> RoundFigures:
    """The participation figures, with room for the measures of shown units."""
    figures: RoundFigures = {
        int(unit): UnitFigure(**figure) for unit, figure in participation.items()
    }
    for figure in figures.values():
        if figure["shown"]:
            figure["items"] = {}
            figure["constructs"] = {}
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
