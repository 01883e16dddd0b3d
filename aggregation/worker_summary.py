"""The results a worker gets after a round closed: their group's figures, in a few lines.

The group is the smallest one published that contains the worker - their unit if it was shown,
otherwise the unit its answers were included in - never a hidden group. Every figure comes from
that group's report, which the block and pinning audits have passed (``build_report``): the
summary shows a subset of what the group's manager sees, and a coarser response band, never
anything new.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, select

from aggregation.findings import Change, changes
from aggregation.report import ActionRow, UnitReport, build_report
from aggregation.trends import trend_rows
from survey.figures import not_published, stored_figure
from survey.storage import Database
from survey.storage.models import (
    ActionStatus,
    RoundNote,
    RoundState,
    RoundStatistic,
    SurveyRound,
    Unit,
)

#: How many areas the summary names: those that moved most, then those that stand out.
AREAS = 4


@dataclass(frozen=True)
class Area:
    construct: str
    index: float
    better_high: bool
    change: Change | None


@dataclass(frozen=True)
class WorkerSummary:
    round_id: int
    closed_at: datetime
    #: The round's k: the smallest group any figure is shown for.
    k: int
    #: The group the figures are about, and whether it is the worker's own unit.
    group_name: str
    own_unit: bool
    #: None when nothing was published for any group containing the worker.
    report: UnitReport | None
    #: Why the worker's own unit was not shown, as published: "members" (too few members ever
    #: to be shown on its own), "neighbours" (it would let a smaller group be worked out), ""
    #: (too few answered this time); None where it was shown.
    own_reason: str | None = None
    #: Share who answered, as a band of ten percentage points (low, high).
    band: tuple[int, int] | None = None
    areas: list[Area] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    new_actions: list[ActionRow] = field(default_factory=list)
    done_actions: list[ActionRow] = field(default_factory=list)


def response_band(respondents: int, members: int, at_least: bool) -> tuple[int, int] | None:
    """The share who answered as a ten-point band: "60–70 %" tells a team what it needs. A
    count published as a lower bound ("at least 5 answered") gives an open band, (60, 100):
    "at least 60 %", never a band the true share may lie above."""
    if members <= 0:
        return None
    low = min(90, math.floor(respondents / members * 10 + 1e-9) * 10)
    return (low, 100) if at_least or low >= 90 else (low, low + 10)


def worker_summary(
    db: Database, round_id: int, unit_id: int, *, change_spread: float
) -> WorkerSummary | None:
    """The summary of round ``round_id`` for a worker of ``unit_id``; None when the round has
    no statistics (yet) or the unit was not in it.

    Long because it picks, in the order the message shows them, what a worker may see of one round.
    """
    with db.session() as session:
        parents = dict(session.exec(select(Unit.id, Unit.parent_id)).all())
        names = dict(session.exec(select(Unit.id, Unit.name)).all())
        figures = {
            row.unit_id: stored_figure(row.figures, row.figures_version)
            for row in session.exec(
                select(RoundStatistic).where(RoundStatistic.round_id == round_id)
            )
        }
        path = _path_up(unit_id, parents)
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None or survey_round.state != RoundState.CLOSED:
            return None
        closed_at = survey_round.closed_at or survey_round.closes_at
        k = survey_round.min_group_size
        notes = {
            note.unit_id: note.text
            for note in session.exec(
                select(RoundNote).where(
                    RoundNote.round_id == round_id, col(RoundNote.unit_id).in_(path)
                )
            )
        }
    if not figures or not any(u in figures for u in path):
        return None
    group = next((u for u in path if figures.get(u, not_published()).get("shown")), None)
    note_list = [(names.get(u, "?"), notes[u]) for u in reversed(path) if u in notes]
    own = figures.get(unit_id, not_published())
    own_reason = None if own.get("shown") else str(own.get("reason", ""))
    if group is None:
        # Nothing shown for any group containing the worker: they hear that, and the notes.
        # "Too few members" only where every unit on the way up had too few.
        members_only = all(
            figures[u].get("reason") == "members" for u in path if u in figures
        )
        return WorkerSummary(
            round_id,
            closed_at,
            k,
            names.get(unit_id, "?"),
            True,
            None,
            own_reason="members" if members_only else "",
            notes=note_list,
        )
    report = build_report(db, group, change_spread=change_spread)
    latest = report.latest_round
    if latest is None or latest.round_id != round_id:
        return None  # a later round has closed: its own summary says more
    shown = report.latest
    band = response_band(
        int(shown["respondents"]), int(shown["members"]), bool(shown.get("respondents_at_least"))
    )
    previous = report.rounds[-2].closed_at.date() if len(report.rounds) > 1 else date.min
    mine = [a for a in report.actions if a.unit_id in path]
    return WorkerSummary(
        round_id=round_id,
        closed_at=latest.closed_at,
        k=k,
        group_name=report.unit_name,
        own_unit=group == unit_id,
        report=report,
        own_reason=own_reason,
        band=band,
        areas=_areas(report),
        notes=note_list,
        new_actions=[a for a in mine if a.created_on > previous and a.status != ActionStatus.DONE],
        done_actions=[a for a in mine if a.done_on is not None and a.done_on > previous],
    )


def _path_up(unit_id: int, parents: dict[int, int | None]) -> list[int]:
    path = [unit_id]
    while (parent := parents.get(path[-1])) is not None and parent not in path:
        path.append(parent)
    return path


def _areas(report: UnitReport) -> list[Area]:
    """The areas that moved most (clear changes first), then those furthest from the middle."""
    latest = report.latest_round
    assert latest is not None
    moved = changes(report)
    rows = [
        row
        for row in trend_rows(report)
        if row.round_id == latest.round_id and not math.isnan(row.index)
    ]

    def weight(row_construct: str, index: float) -> tuple[int, float]:
        change = moved.get(row_construct)
        step = change.previous if change is not None else None
        if step is not None and step.clear:
            return (0, -abs(step.delta))
        return (1, -abs(index - 50))

    rows.sort(key=lambda row: weight(row.construct, row.index))
    return [
        Area(
            row.construct,
            row.index,
            report.construct_better.get(row.construct) == "higher_is_better",
            moved[row.construct].previous if row.construct in moved else None,
        )
        for row in rows[:AREAS]
    ]
