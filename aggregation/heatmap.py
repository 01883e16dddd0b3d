"""The sub-units heatmap: each unit below a report's unit, in tree order, with every area's
latest index (a range where only a range is published, hidden where hidden) and its change since
the round before that asked it. Reads the report's audited figures only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from aggregation.disclosure import Tree
from aggregation.report import RoundRef, UnitReport, latest_asked
from survey.figures import ConstructFigure, UnitFigure, construct_of, not_published
from survey.storage import Database
from survey.storage.models import Unit


@dataclass(frozen=True)
class _Heat:
    """What the sub-units heatmap reads: units in tree order with their row names, and the
    figures of the rounds it shows (each area's latest round that asked it, and the one before
    that, for the change)."""

    #: (unit, row name as the chart writes it, depth below the report's unit)
    rows: list[tuple[int, str, int]]
    #: Units' plain names.
    names: dict[int, str]
    by_round: dict[int, dict[int, UnitFigure]]
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
    by_round: dict[int, dict[int, UnitFigure]] = {}
    for (round_id, unit), figure in report.audited.items():
        if round_id in wanted:
            by_round.setdefault(round_id, {})[unit] = figure
    figures = by_round.get(latest.round_id, {})
    kids = Tree({unit: figure.get("parent") for unit, figure in figures.items()}).children()
    rows: list[tuple[int, str, int]] = []

    def walk(unit: int, depth: int) -> None:
        # Indented as in the tree (no-break spaces survive the chart's label).
        name = "\u00a0\u00a0\u00a0" * depth + names.get(unit, str(unit))
        if figures[unit].get("shown"):
            # "n≥7" where the count is published as "at least 7", as the report says it.
            sign = "≥" if figures[unit].get("respondents_at_least") else "="
            name += f" (n{sign}{figures[unit]['respondents']})"
        rows.append((unit, name, depth))
        for child in sorted(kids.get(unit, []), key=lambda u: names.get(u, "")):
            walk(child, depth + 1)

    if report.unit_id in figures:
        walk(report.unit_id, 0)
    return _Heat(rows, names, by_round, asked_in, before)


Heat = dict[str, dict[str, float | tuple[float, float] | None]]


@dataclass(frozen=True)
class HeatRow:
    """One row of the sub-units heatmap, for a page that lays it out itself (the dashboard's
    cards): the unit, its row name as the chart writes it, its cells, and for a unit shown
    nothing of, its latest figure (which says why) and the nearest unit above it that is shown
    (where its answers are counted)."""

    unit_id: int
    name: str
    depth: int
    cells: dict[str, float | tuple[float, float] | None]
    figure: UnitFigure
    counted_in: str | None


def unit_heat_rows(db: Database, report: UnitReport) -> list[HeatRow]:
    """The heatmap's rows in tree order (the unit first), with their cells."""
    heat = _heat(db, report)
    if heat is None or report.latest_round is None:
        return []
    latest = heat.by_round.get(report.latest_round.round_id, {})
    rows = []
    for unit, name, depth in heat.rows:
        figure = latest.get(unit, not_published())
        above, counted_in = figure.get("parent"), None
        while above is not None and counted_in is None:
            parent = latest.get(above, not_published())
            if parent.get("shown"):
                counted_in = heat.names.get(above)
            above = parent.get("parent")
        cells = {
            construct: _cell(_shown_entry(heat.by_round, ref.round_id, unit, construct))
            for construct, ref in heat.asked_in.items()
        }
        rows.append(HeatRow(unit, name.lstrip("\u00a0"), depth, cells, figure, counted_in))
    return rows


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
    for unit, name, _ in heat.rows:
        data[name] = {
            construct: _cell(_shown_entry(heat.by_round, ref.round_id, unit, construct))
            for construct, ref in heat.asked_in.items()
        }
    return data


def _heat_moves(heat: _Heat) -> Moves:
    moves: Moves = {}
    for unit, name, _ in heat.rows:
        for construct, ref in heat.asked_in.items():
            earlier = heat.before.get(construct)
            if earlier is None:
                continue
            now = _shown_entry(heat.by_round, ref.round_id, unit, construct)
            then = _shown_entry(heat.by_round, earlier.round_id, unit, construct)
            if not now or not then or "range" in now or "range" in then:
                continue
            n_now = heat.by_round[ref.round_id][unit].get("respondents", 0)
            n_then = heat.by_round[earlier.round_id][unit].get("respondents", 0)
            moves.setdefault(name, {})[construct] = (
                float(now["index"]) - float(then["index"]),
                float(n_now),
                float(n_then),
            )
    return moves


def _shown_entry(
    by_round: dict[int, dict[int, UnitFigure]], round_id: int, unit: int, construct: str
) -> ConstructFigure | None:
    figure = by_round.get(round_id, {}).get(unit, not_published())
    if not figure.get("shown"):
        return None
    entry = construct_of(figure, construct)
    return ConstructFigure(**entry) if entry else None


def _cell(entry: ConstructFigure | None) -> float | tuple[float, float] | None:
    """A heatmap cell: the index, its published range where only a range is published, or
    None where hidden."""
    if entry is None:
        return None
    if "range" in entry:
        low, high = entry["range"]
        return (float(low), float(high))
    return float(entry["index"])
