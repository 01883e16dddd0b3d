"""A unit's report from stored, published figures: latest round, trends, comparisons, alerts.

Reads ``round_statistic`` only (never answers), so it costs the same after five years, and it
can show nothing that disclosure control did not already allow. Open rounds do not exist here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlmodel import col, select

from aggregation.alerts import Alert, evaluate_alerts
from aggregation.disclosure import Tree, audit
from aggregation.report_audit import _audited_rounds, _sets_of
from survey.actions import followup_key, list_actions
from survey.enrolment import subtree_ids
from survey.figures import (
    ItemFigure,
    UnitFigure,
    asked_areas,
    item_of,
    not_published,
    stored_figure,
)
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
class FollowUp:
    """The answer to an action's follow-up question, as published for the action's unit."""

    round_id: int
    #: None while its round is open or when it closed without figures for the unit.
    closed_at: datetime | None
    figure: ItemFigure | None
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
    latest: UnitFigure
    construct_labels: dict[str, dict[str, str]]
    construct_better: dict[str, str]
    items: dict[str, dict[str, Any]]
    alerts: list[Alert] = field(default_factory=list)
    #: The spread (0–100 scale) against which changes are judged (aggregation/findings.py).
    change_spread: float = DEFAULT_CHANGE_SPREAD
    #: (round, unit) -> figures: everything this report shows, for the audit.
    published: dict[tuple[int, int], UnitFigure] = field(default_factory=dict)
    #: (round, unit) -> figures of every unit of the report's rounds, as the pinning audit lets
    #: them leave (what it refuses held back): the one source for everything built from them.
    audited: dict[tuple[int, int], UnitFigure] = field(default_factory=dict)
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
    """The report of ``unit_id`` over its last ``rounds`` closed rounds.

    Long because it assembles one UnitReport field by field; reading the rounds, the question texts
    and the indices are functions of their own.
    """
    unit, units, relevant, rows = _stored_rounds(db, unit_id, rounds)
    withheld, audited_rows = _audited_rounds(db, relevant, rows)
    if withheld:
        # A round whose participation counts would pin someone (published under earlier,
        # weaker rules) is left out of every report rather than shown again (P6).
        log.warning("rounds left out of a report by the pinning audit: %s", sorted(withheld))
        relevant = [r for r in relevant if r.id not in withheld]
    figures: dict[tuple[int, int], UnitFigure] = {
        (round_id, unit): UnitFigure(**figure) for round_id, unit, figure in audited_rows
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
    labels, better, items = _question_texts(_sets_of(db, relevant))
    own = [figures[(r.round_id, unit_id)] for r in refs]
    columns = sorted({c for f in own for c in asked_areas(f)} & set(labels))
    asked = pd.DataFrame(
        [{c: c in asked_areas(f) for c in columns} for f in own],
        index=[r.round_id for r in refs],
        columns=columns,
        dtype=bool,
    )

    def series(of_unit: int | None) -> pd.DataFrame:
        return _indices(figures, refs, unit_id, of_unit, columns)

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
        latest=own[-1] if own else not_published(),
        construct_labels={c: labels[c] for c in columns},
        construct_better=better,
        items=items,
        change_spread=change_spread,
    )
    shown_units = {unit_id, org.id, *([parent.id] if parent else [])}
    report.audited = figures
    report.published = {
        key: value for key, value in figures.items() if key[1] in shown_units and value.get("shown")
    }
    report.alerts = evaluate_alerts(
        report, [figures.get((r.round_id, unit_id), not_published()) for r in refs]
    )
    report.actions = _actions(db, unit_id, figures, {r.round_id for r in refs}, report.published)
    audit_report(db, report)
    return report


def _stored_rounds(
    db: Database, unit_id: int, rounds: int
) -> tuple[Unit, dict[int, Unit], list[SurveyRound], list[tuple[int, int, UnitFigure]]]:
    """The unit, every unit, its last ``rounds`` closed rounds and their stored figures."""
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
            select(
                RoundStatistic.round_id,
                RoundStatistic.unit_id,
                RoundStatistic.figures,
                RoundStatistic.figures_version,
            ).where(col(RoundStatistic.round_id).in_(round_ids))
        ).all()
    return unit, units, relevant, [(r, u, stored_figure(f, v)) for r, u, f, v in rows]


def _question_texts(
    sets: Mapping[int, QuestionSet],
) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, dict[str, Any]]]:
    """Per area its label by language and which way is better; per item what the report says
    about it (its text, area, unfavourable answers' labels and alert rules)."""
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
    return labels, better, items


def _above_then(
    figures: Mapping[tuple[int, int], UnitFigure], round_id: int, unit_id: int
) -> list[int]:
    """The units above ``unit_id`` in the tree the round was published on: after a move, an
    old round is compared with the parent it had then, never with today's."""
    path: list[int] = []
    current = figures.get((round_id, unit_id), not_published()).get("parent")
    while current is not None and current not in path:
        path.append(current)
        current = figures.get((round_id, current), not_published()).get("parent")
    return path


def _indices(
    figures: Mapping[tuple[int, int], UnitFigure],
    refs: list[RoundRef],
    unit_id: int,
    of_unit: int | None,
    columns: list[str],
) -> pd.DataFrame:
    """Area indices of ``of_unit`` (the unit, or a unit above it then) round by round; NaN
    where hidden or not asked."""
    data = []
    for ref in refs:
        f = not_published()
        if of_unit is not None:
            f = figures.get((ref.round_id, of_unit), f)
        if of_unit != unit_id and of_unit not in _above_then(figures, ref.round_id, unit_id):
            f = not_published()  # not above this unit in that round: nothing to compare with
        constructs = f.get("constructs", {}) if f.get("shown") else {}
        data.append({name: c["index"] for name, c in constructs.items()})
    return pd.DataFrame(data, index=[r.round_id for r in refs], columns=columns, dtype=float)[
        columns
    ]


def _actions(
    db: Database,
    unit_id: int,
    audited: Mapping[tuple[int, int], UnitFigure],
    reported: set[int],
    published: dict[tuple[int, int], UnitFigure],
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
                figure = item_of(unit_figure, followup_key(action.id))
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
    by_round: dict[int, dict[int, UnitFigure]] = {}
    for (round_id, unit), figure in report.published.items():
        by_round.setdefault(round_id, {})[unit] = figure
    k_of = {ref.round_id: ref for ref in report.rounds}
    for round_id, units in by_round.items():
        ref = k_of.get(round_id)
        if ref is None:
            continue
        tree = Tree(trees.get(round_id, {}))
        problems = audit(tree, {u: f.get("respondents", 0) for u, f in units.items()}, ref.k)
        for key in {key for f in units.values() for key in f.get("items", {})}:
            entries = {u: e for u, f in units.items() if (e := item_of(f, key)) is not None}
            shown = {u: e["n"] for u, e in entries.items()}
            spread = {u: e["n"] for u, e in entries.items() if "unfavourable_share" in e}
            problems += audit(tree, shown, ref.k) + audit(tree, spread, ref.spread_k)
        if problems:
            # Name the unit, not the group size: the message ends up in logs (P6).
            raise ReportError(
                f"report withheld: the audit found a group below k around unit "
                f"{problems[0].unit} in round {round_id}"
            )


def _rate(figure: UnitFigure) -> float | None:
    members = figure.get("members")
    if not figure.get("shown") or not members:
        return None
    return min(1.0, figure.get("respondents", 0) / members)


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
