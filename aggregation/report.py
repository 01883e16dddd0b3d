"""A unit's report from stored, published figures: latest round, trends, comparisons, alerts.

Reads ``round_statistic`` only (never answers), so it costs the same after five years, and it
can show nothing that disclosure control did not already allow. Open rounds do not exist here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Text, cast
from sqlmodel import col, select

from aggregation.disclosure import Tree, audit
from aggregation.holdback import HoldBackError, hold_back
from aggregation.pinning import ItemScale
from aggregation.statistics import followup_infos, item_constructs, item_infos, item_scales
from survey.actions import followup_key, list_actions
from survey.enrolment import subtree_ids
from survey.questions import load_version_by_id, parse_items
from survey.questions.model import QuestionSet
from survey.storage import Database
from survey.storage.models import ActionStatus, RoundState, RoundStatistic, SurveyRound, Unit

log = logging.getLogger(__name__)

#: The conservative spread of the 0–100 indices used to judge changes (PULSE_CHANGE_SPREAD).
DEFAULT_CHANGE_SPREAD = 25.0


class ReportError(LookupError):
    """No report can be made as asked (unknown unit, nothing closed yet...)."""


@dataclass(frozen=True)
class RoundRef:
    round_id: int
    #: When it actually closed (its scheduled close for rounds closed before that was kept).
    closed_at: datetime
    k: int
    spread_k: int


@dataclass(frozen=True)
class Alert:
    item: str
    rule: str
    #: Plain words: which rule fired and on what figures.
    finding: dict[str, Any]
    advice: dict[str, str]


@dataclass(frozen=True)
class FollowUp:
    """The answer to an action's follow-up question, as published for the action's unit."""

    round_id: int
    #: None while its round is open or when it closed without figures for the unit.
    closed_at: datetime | None
    figure: dict[str, Any] | None
    k: int

    @property
    def mean_range(self) -> tuple[float, float] | None:
        """The published mean on the answers' own 1–5 scale (a range where extreme)."""
        if self.figure is None or "mean" not in self.figure:
            return None
        low, high = self.figure["mean"]
        return 1 + low / 25, 1 + high / 25


@dataclass(frozen=True)
class ActionRow:
    """An action of the unit or a sub-unit, with its comments and follow-up answer."""

    id: int
    unit_id: int
    unit_name: str
    title: str
    construct: str | None
    owner: str
    due_on: date
    status: ActionStatus
    created_on: date
    done_on: date | None
    comments: tuple[tuple[str, str, date], ...]
    followup: FollowUp | None

    def overdue(self, today: date) -> bool:
        return self.status != ActionStatus.DONE and self.due_on < today


@dataclass
class UnitReport:
    unit_id: int
    unit_name: str
    parent_id: int | None
    parent_name: str | None
    org_id: int
    org_name: str
    rounds: list[RoundRef]
    #: rows: rounds (oldest first); columns: constructs; NaN where hidden (a gap, never a zero).
    indices: pd.DataFrame
    parent_indices: pd.DataFrame
    org_indices: pd.DataFrame
    #: True where the round asked the construct at all (rotation); NaN indices where this is
    #: True are hidden (fewer than k), where False simply not asked.
    asked: pd.DataFrame
    response_rate: pd.Series
    respondents: pd.Series
    latest: dict[str, Any]
    construct_labels: dict[str, dict[str, str]]
    construct_better: dict[str, str]
    items: dict[str, dict[str, Any]]
    alerts: list[Alert] = field(default_factory=list)
    #: The spread (0–100 scale) against which changes are judged (aggregation/findings.py).
    change_spread: float = DEFAULT_CHANGE_SPREAD
    #: (round, unit) -> figures: everything this report shows, for the audit.
    published: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: (round, unit) -> figures of every unit of the report's rounds, as the pinning audit lets
    #: them leave (what it refuses held back): the one source for everything built from them.
    audited: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: Actions of the unit and its sub-units, open ones first.
    actions: list[ActionRow] = field(default_factory=list)

    @property
    def latest_round(self) -> RoundRef | None:
        return self.rounds[-1] if self.rounds else None


def build_report(
    db: Database,
    unit_id: int,
    rounds: int = 12,
    *,
    change_spread: float = DEFAULT_CHANGE_SPREAD,
) -> UnitReport:
    """The report of ``unit_id`` over its last ``rounds`` closed rounds."""
    with db.session() as session:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise ReportError(f"unit {unit_id} does not exist")
        units = {u.id: u for u in session.exec(select(Unit)).all()}
        closed = session.exec(
            select(SurveyRound)
            .where(SurveyRound.state == RoundState.CLOSED)
            .order_by(col(SurveyRound.closes_at))
        ).all()
        relevant = [r for r in closed if str(unit_id) in r.member_counts][-rounds:]
        round_ids = [r.id for r in relevant]
        # The figures alone (not the compact indices): a report decodes each stored figure once.
        rows = session.exec(
            select(RoundStatistic.round_id, RoundStatistic.unit_id, RoundStatistic.figures).where(
                col(RoundStatistic.round_id).in_(round_ids)
            )
        ).all()
    withheld, rows = _audited_rounds(db, relevant, rows)
    if withheld:
        # A round whose participation counts would pin someone (published under earlier,
        # weaker rules) is left out of every report rather than shown again (P6).
        log.warning("rounds left out of a report by the pinning audit: %s", sorted(withheld))
        relevant = [r for r in relevant if r.id not in withheld]
    figures: dict[tuple[int, int], dict[str, Any]] = {
        (round_id, unit): dict(figure) for round_id, unit, figure in rows
    }
    parent = units.get(unit.parent_id) if unit.parent_id else None
    org = unit
    while org.parent_id is not None and org.parent_id in units:
        org = units[org.parent_id]
    refs = [
        RoundRef(r.id, r.closed_at or r.closes_at, r.min_group_size, r.spread_min_group_size)
        for r in relevant
        if (r.id, unit_id) in figures
    ]
    sets = _sets_of(db, relevant)
    labels: dict[str, dict[str, str]] = {}
    better: dict[str, str] = {}
    items: dict[str, dict[str, Any]] = {}
    for question_set in sets.values():
        for name, construct in question_set.constructs.items():
            labels[name] = {str(language): text for language, text in construct.label.items()}
            better[name] = construct.index_direction
        for item in question_set.items:
            construct_label = question_set.constructs.get(item.construct_key)
            items[item.key] = {
                "text": dict(item.text),
                "construct": item.construct_key,
                # Descriptive constructs have no index column, but their alerts need the name.
                "construct_label": {
                    str(language): text
                    for language, text in (construct_label.label if construct_label else {}).items()
                },
                "unfavourable_labels": {
                    language: [
                        label
                        for value, label in zip(
                            question_set.answer_values(item),
                            question_set.answer_labels(item, language),
                            strict=True,
                        )
                        if value in item.unfavourable
                    ]
                    for language in question_set.languages
                },
                "alerts": [a.model_dump() for a in item.alerts],
            }

    def above_then(round_id: int) -> list[int]:
        """The units above this one in the tree the round was published on: after a move, an
        old round is compared with the parent it had then, never with today's."""
        path: list[int] = []
        current = figures.get((round_id, unit_id), {}).get("parent")
        while current is not None and current not in path:
            path.append(current)
            current = figures.get((round_id, current), {}).get("parent")
        return path

    def series(of_unit: int | None) -> pd.DataFrame:
        data = []
        for ref in refs:
            f = figures.get((ref.round_id, of_unit), {}) if of_unit is not None else {}
            if of_unit != unit_id and of_unit not in above_then(ref.round_id):
                f = {}  # not above this unit in that round: nothing to compare with
            constructs = f.get("constructs", {}) if f.get("shown") else {}
            data.append({name: c["index"] for name, c in constructs.items()})
        return pd.DataFrame(
            data, index=[r.round_id for r in refs], columns=sorted(labels), dtype=float
        )[columns]

    own = [figures[(r.round_id, unit_id)] for r in refs]
    columns = sorted(
        {c for f in own for c in f.get("asked", f.get("constructs", {}))} & set(labels)
    )
    asked = pd.DataFrame(
        [{c: c in f.get("asked", f.get("constructs", {})) for c in columns} for f in own],
        index=[r.round_id for r in refs],
        columns=columns,
        dtype=bool,
    )
    labels = {c: labels[c] for c in columns}
    report = UnitReport(
        unit_id=unit_id,
        unit_name=unit.name,
        parent_id=parent.id if parent else None,
        parent_name=parent.name if parent else None,
        org_id=org.id,
        org_name=org.name,
        rounds=refs,
        indices=series(unit_id),
        parent_indices=series(parent.id if parent else None),
        org_indices=series(org.id),
        asked=asked,
        response_rate=pd.Series(
            [_rate(f) for f in own], index=[r.round_id for r in refs], dtype=float
        ),
        respondents=pd.Series(
            [f.get("respondents") if f.get("shown") else None for f in own],
            index=[r.round_id for r in refs],
            dtype=float,
        ),
        latest=own[-1] if own else {"shown": False},
        construct_labels=labels,
        construct_better=better,
        items=items,
        change_spread=change_spread,
    )
    shown_units = {unit_id, org.id, *([parent.id] if parent else [])}
    report.audited = figures
    report.published = {
        key: value for key, value in figures.items() if key[1] in shown_units and value.get("shown")
    }
    report.alerts = evaluate_alerts(report, [figures.get((r.round_id, unit_id), {}) for r in refs])
    report.actions = _actions(db, unit_id, figures, {r.round_id for r in refs}, report.published)
    audit_report(db, report)
    return report


def _actions(
    db: Database,
    unit_id: int,
    audited: Mapping[tuple[int, int], dict[str, Any]],
    reported: set[int],
    published: dict[tuple[int, int], dict[str, Any]],
) -> list[ActionRow]:
    """The unit's and its sub-units' actions; a follow-up answer is shown from its round's
    audited figures for the action's unit, and only when that round is one the report covers,
    so that the report's audit judges it with the rest (it is added to ``published``)."""
    with db.session() as session:
        scope = subtree_ids(session, unit_id)
    views = list_actions(db, scope)
    round_ids = {v.action.followup_round_id for v in views if v.action.followup_round_id}
    with db.session() as session:
        rounds = {
            r.id: r
            for r in session.exec(select(SurveyRound).where(col(SurveyRound.id).in_(round_ids)))
        }
    rows = []
    for view in views:
        action = view.action
        followup = None
        survey_round = rounds.get(action.followup_round_id or 0)
        if survey_round is not None:
            unit_figure = audited.get((survey_round.id, action.unit_id))
            figure = None
            if unit_figure is not None and unit_figure.get("shown") and survey_round.id in reported:
                figure = unit_figure.get("items", {}).get(followup_key(action.id))
                if figure is not None:
                    published[(survey_round.id, action.unit_id)] = unit_figure
            closed = survey_round.closed_at or survey_round.closes_at
            followup = FollowUp(
                survey_round.id,
                closed if survey_round.state == RoundState.CLOSED else None,
                figure,
                survey_round.min_group_size,
            )
        rows.append(
            ActionRow(
                id=action.id,
                unit_id=action.unit_id,
                unit_name=view.unit_name,
                title=action.title,
                construct=action.construct_key,
                owner=action.owner,
                due_on=action.due_on,
                status=ActionStatus(action.status),
                created_on=action.created_on,
                done_on=action.done_on,
                comments=tuple((str(c.author_role), c.text, c.written_on) for c in view.comments),
                followup=followup,
            )
        )
    rows.sort(key=lambda row: (row.status == ActionStatus.DONE, row.due_on, row.id))
    return rows


def _audited_rounds(
    db: Database,
    rounds: list[SurveyRound],
    rows: Sequence[tuple[int, int, Mapping[str, Any]]],
) -> tuple[set[int], list[tuple[int, int, Mapping[str, Any]]]]:
    """Every round's stored figures as the pinning audit (``aggregation.pinning``) lets them
    leave, judged on everything each round published (``rows``: all its stored figures), before
    anything leaves: what it refuses is held back (``aggregation.holdback``), and a round whose
    participation it refuses is left out whole. Returns the rounds left out and the rows."""
    sets = _sets_of(db, rounds)
    by_round: dict[int, dict[int, Mapping[str, Any]]] = {}
    for round_id, unit, figure in rows:
        by_round.setdefault(round_id, {})[unit] = figure
    withheld: set[int] = set()
    kept: list[tuple[int, int, Mapping[str, Any]]] = []
    for survey_round in rounds:
        round_id = survey_round.id or 0
        figures = by_round.get(round_id, {})
        if not figures:
            continue
        asked = [item["key"] for item in survey_round.items]
        round_sets: list[tuple[QuestionSet, Mapping[str, str]]] = [
            (sets[v], {}) for v in survey_round.question_set_versions if v in sets
        ]
        infos = item_infos(round_sets, asked) if round_sets else []
        infos += followup_infos(parse_items(survey_round.items))
        audited = _audited(
            {unit: figure.get("parent") for unit, figure in figures.items()},
            {int(unit): n for unit, n in survey_round.member_counts.items()},
            figures,
            item_scales(infos),
            survey_round.min_group_size,
            survey_round.known_others,
            item_constructs(infos),
        )
        if audited is None:
            withheld.add(round_id)
            continue
        kept += [(round_id, unit, figure) for unit, figure in audited.items()]
    return withheld, kept


#: The pinning audit's outcome by the digest of everything it judged. A closed round's
#: publication never changes (a different re-publication is refused), so every report of every
#: unit would otherwise repeat the same audit of the same twelve rounds.
_VERDICTS: dict[str, dict[int, Mapping[str, Any]] | None] = {}
_VERDICTS_KEPT = 4096


def _audited(
    parents: dict[int, Any],
    members: dict[int, int],
    figures: dict[int, Mapping[str, Any]],
    scales: list[ItemScale],
    k: int,
    known: int,
    constructs: dict[str, str],
) -> dict[int, Mapping[str, Any]] | None:
    """One round's figures as they may leave (None: not at all), remembered by the digest of
    the audit's whole input, so an outcome is reused only for exactly the same publication."""
    digest = hashlib.sha256(
        json.dumps(
            [
                sorted(parents.items()),
                sorted(members.items()),
                sorted((unit, figure) for unit, figure in figures.items()),
                [dataclasses.asdict(scale) for scale in scales],
                k,
                known,
                sorted(constructs.items()),
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    if digest not in _VERDICTS:
        outcome: dict[int, Mapping[str, Any]] | None
        try:
            outcome = dict(
                hold_back(parents, members, figures, scales, k, known, constructs).figures
            )
        except HoldBackError:
            outcome = None
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()
        _VERDICTS[digest] = outcome
    return _VERDICTS[digest]


def evaluate_alerts(report: UnitReport, series: list[dict[str, Any]]) -> list[Alert]:
    """The question sets' alert rules on the unit's published figures, latest round last."""
    if not series or not series[-1].get("shown"):
        return []
    alerts = []
    latest = series[-1]
    for key, item in report.items.items():
        for rule in item["alerts"]:
            kind, threshold = rule["kind"], rule["threshold"]
            finding: dict[str, Any] | None = None
            if kind == "share_unfavourable":
                run = rule["consecutive_rounds"]
                shares = [
                    f.get("items", {}).get(key, {}).get("unfavourable_share") for f in series[-run:]
                ]
                if len(shares) == run and all(s is not None and s >= threshold for s in shares):
                    finding = {"shares": shares, "threshold": threshold, "rounds": run}
            else:
                construct = item["construct"]
                index = latest.get("constructs", {}).get(construct, {}).get("index")
                if index is None:
                    continue
                if (kind == "index_at_least" and index >= threshold) or (
                    kind == "index_at_most" and index <= threshold
                ):
                    finding = {"index": index, "threshold": threshold, "construct": construct}
                elif kind == "index_drop" and len(series) >= 2:
                    before = series[-2].get("constructs", {}).get(construct, {}).get("index")
                    if before is not None and before - index >= threshold:
                        finding = {
                            "before": before,
                            "index": index,
                            "threshold": threshold,
                            "construct": construct,
                        }
            if finding is not None:
                alerts.append(Alert(key, kind, finding, rule["advice"]))
    return alerts


@dataclass(frozen=True)
class TrendRow:
    """One construct's latest figures; NaN where not shown."""

    construct: str
    round_id: int
    index: float
    change_previous: float
    change_4_round_mean: float
    parent: float
    organisation: float


def trend_rows(report: UnitReport) -> list[TrendRow]:
    """Per construct, from the rounds that asked it: the latest index, its change against the
    previous such round and against the mean of the four before, the parent's and the
    organisation's index in that round, and when that was."""
    rows = []
    nan = float("nan")
    for construct in report.indices.columns:
        asked = report.asked[construct]
        rounds = [r for r, was in zip(asked.index.tolist(), asked.tolist(), strict=True) if was]
        if not rounds:
            continue
        values = report.indices.loc[rounds, construct].to_numpy(dtype=float)
        latest_round = rounds[-1]
        latest = float(values[-1])
        previous = float(values[-2]) if len(values) > 1 else nan
        earlier = values[-5:-1][~np.isnan(values[-5:-1])]
        rows.append(
            TrendRow(
                construct=str(construct),
                round_id=int(latest_round),
                index=latest,
                change_previous=latest - previous,
                change_4_round_mean=latest - float(earlier.mean()) if len(earlier) else nan,
                parent=_frame_value(report.parent_indices, latest_round, construct),
                organisation=_frame_value(report.org_indices, latest_round, construct),
            )
        )
    return rows


def _frame_value(frame: pd.DataFrame, row: int, column: str) -> float:
    value = frame.at[row, column]
    return float(value)  # type: ignore[arg-type]  # pandas-stubs types a cell as any scalar; index frames hold floats


def audit_report(db: Database, report: UnitReport) -> None:
    """Re-audit, per round and measure, what this report publishes, against the unit tree as it
    was when the round closed (stored with its figures)."""
    with db.session() as session:
        rows = session.exec(
            select(RoundStatistic.round_id, RoundStatistic.unit_id, RoundStatistic.figures).where(
                col(RoundStatistic.round_id).in_([r.round_id for r in report.rounds])
            )
        ).all()
    trees: dict[int, dict[int, int | None]] = {}
    for round_id, unit, figure in rows:
        trees.setdefault(round_id, {})[unit] = figure.get("parent")
    by_round: dict[int, dict[int, dict[str, Any]]] = {}
    for (round_id, unit), figure in report.published.items():
        by_round.setdefault(round_id, {})[unit] = figure
    k_of = {ref.round_id: ref for ref in report.rounds}
    for round_id, units in by_round.items():
        ref = k_of.get(round_id)
        if ref is None:
            continue
        tree = Tree(trees.get(round_id, {}))
        problems = audit(tree, {u: f["respondents"] for u, f in units.items()}, ref.k)
        for key in {key for f in units.values() for key in f.get("items", {})}:
            shown = {u: f["items"][key]["n"] for u, f in units.items() if key in f.get("items", {})}
            spread = {
                u: f["items"][key]["n"]
                for u, f in units.items()
                if "unfavourable_share" in f.get("items", {}).get(key, {})
            }
            problems += audit(tree, shown, ref.k) + audit(tree, spread, ref.spread_k)
        if problems:
            # Name the unit, not the group size: the message ends up in logs (P6).
            raise ReportError(
                f"report withheld: the audit found a group below k around unit "
                f"{problems[0].unit} in round {round_id}"
            )


def _rate(figure: dict[str, Any]) -> float | None:
    if not figure.get("shown") or not figure.get("members"):
        return None
    return min(1.0, figure["respondents"] / figure["members"])


def _sets_of(db: Database, rounds: list[SurveyRound]) -> dict[int, QuestionSet]:
    sets: dict[int, QuestionSet] = {}
    for survey_round in rounds:
        for version_id in survey_round.question_set_versions:
            if version_id not in sets:
                _, sets[version_id] = load_version_by_id(db, version_id)
    return sets


def latest_asked(report: UnitReport) -> dict[str, RoundRef]:
    """Per construct, the latest round that asked it (rotation: not always the latest round)."""
    found: dict[str, RoundRef] = {}
    for construct in report.construct_labels:
        if construct not in report.asked.columns:
            continue
        for ref in reversed(report.rounds):
            if bool(report.asked[construct].get(ref.round_id, False)):
                found[construct] = ref
                break
    return found


@dataclass(frozen=True)
class _Heat:
    """What the sub-units heatmap reads: units in tree order with their row names, and the
    figures of the rounds it shows (each area's latest round that asked it, and the one before
    that, for the change)."""

    rows: list[tuple[int, str]]
    by_round: dict[int, dict[int, Mapping[str, Any]]]
    asked_in: dict[str, RoundRef]
    before: dict[str, RoundRef]


def _heat(db: Database, report: UnitReport) -> _Heat | None:
    latest = report.latest_round
    if latest is None:
        return None
    asked_in = latest_asked(report)
    before: dict[str, RoundRef] = {}
    for construct, ref in asked_in.items():
        earlier = report.rounds[: report.rounds.index(ref)]
        asked = [r for r in earlier if bool(report.asked[construct].get(r.round_id, False))]
        if asked:
            before[construct] = asked[-1]
    wanted = {latest.round_id, *(r.round_id for r in (*asked_in.values(), *before.values()))}
    with db.session() as session:
        names = dict(session.exec(select(Unit.id, Unit.name)).all())
    # The audited figures, never the stored ones: what the report's audit held back stays back.
    by_round: dict[int, dict[int, Mapping[str, Any]]] = {}
    for (round_id, unit), figure in report.audited.items():
        if round_id in wanted:
            by_round.setdefault(round_id, {})[unit] = figure
    figures = by_round.get(latest.round_id, {})
    kids = Tree({unit: figure.get("parent") for unit, figure in figures.items()}).children()
    rows: list[tuple[int, str]] = []

    def walk(unit: int, depth: int) -> None:
        # Indented as in the tree (no-break spaces survive the chart's label).
        name = "\u00a0\u00a0\u00a0" * depth + names.get(unit, str(unit))
        if figures[unit].get("shown"):
            # "n≥7" where the count is published as "at least 7", as the report says it.
            sign = "≥" if figures[unit].get("respondents_at_least") else "="
            name += f" (n{sign}{figures[unit]['respondents']})"
        rows.append((unit, name))
        for child in sorted(kids.get(unit, []), key=lambda u: names.get(u, "")):
            walk(child, depth + 1)

    if report.unit_id in figures:
        walk(report.unit_id, 0)
    return _Heat(rows, by_round, asked_in, before)


Heat = dict[str, dict[str, float | tuple[float, float] | None]]
Moves = dict[str, dict[str, tuple[float, float, float]]]


def unit_heatmap(db: Database, report: UnitReport) -> tuple[Heat, Moves]:
    """The sub-units heatmap's figures and its changes, read once (see the two below)."""
    heat = _heat(db, report)
    if heat is None:
        return {}, {}
    return _heat_cells(heat), _heat_moves(heat)


def unit_heatmap_data(db: Database, report: UnitReport) -> Heat:
    """The unit and every unit below it, in tree order, with each construct's index from the
    latest round that asked it; None where hidden (drawn hatched). Row names carry the number
    who answered in the latest round."""
    return unit_heatmap(db, report)[0]


def unit_heatmap_moves(db: Database, report: UnitReport) -> Moves:
    """Per row and construct of the heatmap: (change since the round before that asked it,
    respondents now, respondents then), where both rounds show an exact index."""
    return unit_heatmap(db, report)[1]


def _heat_cells(heat: _Heat) -> Heat:
    data: Heat = {}
    for unit, name in heat.rows:
        data[name] = {
            construct: _cell(_shown_entry(heat.by_round, ref.round_id, unit, construct))
            for construct, ref in heat.asked_in.items()
        }
    return data


def _heat_moves(heat: _Heat) -> Moves:
    moves: Moves = {}
    for unit, name in heat.rows:
        for construct, ref in heat.asked_in.items():
            earlier = heat.before.get(construct)
            if earlier is None:
                continue
            now = _shown_entry(heat.by_round, ref.round_id, unit, construct)
            then = _shown_entry(heat.by_round, earlier.round_id, unit, construct)
            if not now or not then or "range" in now or "range" in then:
                continue
            n_now = heat.by_round[ref.round_id][unit]["respondents"]
            n_then = heat.by_round[earlier.round_id][unit]["respondents"]
            moves.setdefault(name, {})[construct] = (
                float(now["index"]) - float(then["index"]),
                float(n_now),
                float(n_then),
            )
    return moves


def _shown_entry(
    by_round: dict[int, dict[int, Mapping[str, Any]]], round_id: int, unit: int, construct: str
) -> dict[str, Any] | None:
    figure = by_round.get(round_id, {}).get(unit, {})
    if not figure.get("shown"):
        return None
    entry = figure.get("constructs", {}).get(construct)
    return dict(entry) if entry else None


def _cell(entry: dict[str, Any] | None) -> float | tuple[float, float] | None:
    """A heatmap cell: the index, its published range where only a range is published, or
    None where hidden."""
    if entry is None:
        return None
    if "range" in entry:
        low, high = entry["range"]
        return (float(low), float(high))
    return float(entry["index"])


def organisation_trends(db: Database, unit_id: int, rounds: int = 52) -> pd.DataFrame:
    """Construct indices of every unit in ``unit_id``'s rounds, one row per (round, unit), one
    column per construct; hidden figures are NaN. Reads only the compact ``indices`` column,
    as text decoded in one pass: per-row JSON decoding would cost more than everything else."""
    with db.transaction() as connection:
        closed = connection.execute(
            select(SurveyRound.id, SurveyRound.member_counts)
            .where(SurveyRound.state == RoundState.CLOSED)
            .order_by(col(SurveyRound.closes_at))
        ).all()
        round_ids = [r for r, counts in closed if str(unit_id) in counts][-rounds:]
        rows = connection.execute(
            select(
                RoundStatistic.round_id,
                RoundStatistic.unit_id,
                cast(RoundStatistic.indices, Text),
            ).where(col(RoundStatistic.round_id).in_(round_ids))
        ).all()
    records = json.loads("[" + ",".join(text for _, _, text in rows) + "]")
    frame = pd.DataFrame.from_records(
        records,
        index=pd.MultiIndex.from_arrays(
            [[r for r, _, _ in rows], [u for _, u, _ in rows]], names=["round_id", "unit_id"]
        ),
    )
    return frame.sort_index()
