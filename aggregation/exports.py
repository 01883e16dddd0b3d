"""Exports people open in a spreadsheet: XLSX with typed cells, CSV as Swedish Excel reads it.

Only what the audited report shows goes out: indices as published (a range where only a range
is published, as text), respondents as published ("at least" where the count is capped so
that nobody can tell that everyone answered), nothing for hidden groups. Headers are in the
reader's language; Swedish CSV uses ";" and a decimal comma, which Swedish Excel splits and
reads as numbers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from aggregation.findings import changes
from aggregation.report import UnitReport
from aggregation.trends import trend_rows
from aggregation.wording import action_status, construct_label, index_text
from survey.figures import construct_of, not_published
from survey.i18n import Texts

Cell = str | float | int | date | None


def rounds_table(report: UnitReport, t: Texts) -> tuple[list[str], list[list[Cell]]]:
    """One row per closed round: when, how many answered, and every area's index."""
    constructs = list(report.indices.columns)
    headers = [
        t._("Unit"),
        t._("Week"),
        t._("Closed"),
        t._("Answered"),
        t._("Response rate"),
        *(construct_label(report, c, t.language) for c in constructs),
    ]
    rows: list[list[Cell]] = []
    for ref, rate in zip(report.rounds, report.response_rate.tolist(), strict=True):
        figure = report.published.get((ref.round_id, report.unit_id))
        answered: Cell = None
        if figure is not None:
            n = int(figure["respondents"])
            answered = t._("at least {n}").format(n=n) if figure.get("respondents_at_least") else n
        cells: list[Cell] = [
            report.unit_name,
            t.week(ref.closed_at),
            ref.closed_at.date(),
            answered,
            None if rate is None or math.isnan(rate) else round(float(rate), 3),
        ]
        for construct in constructs:
            cells.append(_index_cell(t, report, ref.round_id, construct))
        rows.append(cells)
    return headers, rows


def latest_table(report: UnitReport, t: Texts) -> tuple[list[str], list[list[Cell]]]:
    """Each area's latest index, its changes (marked where larger than chance) and the
    comparison groups."""
    moved = changes(report)
    headers = [
        t._("Area"),
        t._("Week"),
        t._("Index"),
        t._("Since the last round"),
        t._("Clear change"),
        t._("Against the mean of the rounds before"),
        t._("Clear change"),
        report.parent_name or t._("Parent unit"),
        report.org_name,
    ]
    rows: list[list[Cell]] = []
    for row in trend_rows(report):
        if math.isnan(row.index):
            continue
        ref = next(r for r in report.rounds if r.round_id == row.round_id)
        moves = moved.get(row.construct)
        previous = moves.previous if moves else None
        baseline = moves.baseline if moves else None
        rows.append(
            [
                construct_label(report, row.construct, t.language),
                t.week(ref.closed_at),
                _index_cell(t, report, row.round_id, row.construct),
                None if previous is None else round(previous.delta, 1),
                None if previous is None else (t._("yes") if previous.clear else t._("no")),
                None if baseline is None else round(baseline.delta, 1),
                None if baseline is None else (t._("yes") if baseline.clear else t._("no")),
                _index_cell(t, report, row.round_id, row.construct, report.parent_id),
                _index_cell(t, report, row.round_id, row.construct, report.org_id),
            ]
        )
    return headers, rows


def units_table(
    units: dict[str, dict[str, float | tuple[float, float] | None]],
    report: UnitReport,
    t: Texts,
) -> tuple[list[str], list[list[Cell]]]:
    """The sub-units (from ``unit_heatmap_data``): each area's latest figure, "–" where hidden."""
    constructs = [c for c in report.construct_labels if any(c in v for v in units.values())]
    headers = [t._("Unit"), *(construct_label(report, c, t.language) for c in constructs)]
    rows: list[list[Cell]] = []
    for name, values in units.items():
        cells: list[Cell] = [name.replace("\u00a0", " ")]
        for construct in constructs:
            value = values.get(construct)
            if value is None:
                cells.append("–")
            elif isinstance(value, tuple):
                cells.append(f"{t.number(value[0])}–{t.number(value[1])}")
            else:
                cells.append(round(value, 1))
        rows.append(cells)
    return headers, rows


def actions_table(report: UnitReport, t: Texts) -> tuple[list[str], list[list[Cell]]]:
    """The actions of the unit and its sub-units: what, where, who, when, status, follow-up."""
    headers = [
        t._("Action"),
        t._("Unit"),
        t._("Area"),
        t._("Owner"),
        t._("Recorded"),
        t._("Due"),
        t._("Status"),
        t._("Done"),
        t._("Follow-up (1–5)"),
        t._("Comments"),
    ]
    rows: list[list[Cell]] = []
    for action in report.actions:
        mean = action.followup.mean_range if action.followup is not None else None
        followup: Cell = None
        if mean is not None:
            low, high = mean
            followup = (
                round(low, 1) if high - low < 0.05 else f"{t.number(low, 1)}–{t.number(high, 1)}"
            )
        rows.append(
            [
                action.title,
                action.unit_name,
                construct_label(report, action.construct, t.language) if action.construct else "",
                action.owner,
                action.created_on,
                action.due_on,
                action_status(t, action.status),
                action.done_on,
                followup,
                " | ".join(f"{t.role(r)} {d.isoformat()}: {x}" for r, x, d in action.comments),
            ]
        )
    return headers, rows


def report_csv(report: UnitReport, language: str) -> bytes:
    """The rounds table; Swedish: ";" between fields and a decimal comma (Swedish Excel)."""
    return _csv(rounds_table(report, Texts(language)), Texts(language))


def actions_csv(report: UnitReport, language: str) -> bytes:
    """The actions table, as ``report_csv`` writes the rounds."""
    return _csv(actions_table(report, Texts(language)), Texts(language))


def _csv(table: tuple[list[str], list[list[Cell]]], t: Texts) -> bytes:
    headers, rows = table
    language = t.language
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if language == "sv" else ",", lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(t, cell) for cell in row])
    # A byte-order mark, so Excel reads the file as UTF-8 (å, ä, ö) without an import dialog.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def report_xlsx(
    report: UnitReport,
    language: str,
    units: dict[str, dict[str, float | tuple[float, float] | None]] | None = None,
) -> bytes:
    """A workbook with one sheet per table, typed cells (dates, numbers, percentages)."""
    t = Texts(language)
    book = Workbook()
    sheets: list[tuple[str, tuple[list[str], list[list[Cell]]]]] = [
        (t._("Rounds"), rounds_table(report, t)),
        (t._("Latest"), latest_table(report, t)),
    ]
    if units:
        sheets.append((t._("Sub-units"), units_table(units, report, t)))
    if report.actions:
        sheets.append((t._("Actions"), actions_table(report, t)))
    first = True
    for title, (headers, rows) in sheets:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        first = False
        sheet.title = title[:31]
        _fill(sheet, headers, rows, percent_columns={t._("Response rate")})
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _fill(
    sheet: Any, headers: list[str], rows: Sequence[Sequence[Cell]], percent_columns: set[str]
) -> None:
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([defused(cell) for cell in row])
    for index, header in enumerate(headers, 1):
        letter = get_column_letter(index)
        width = max([len(str(header))] + [len(str(r[index - 1] or "")) for r in rows])
        sheet.column_dimensions[letter].width = min(40, max(8, width + 2))
        for cell in sheet[letter][1:]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            elif header in percent_columns and isinstance(cell.value, float):
                cell.number_format = "0%"
            elif isinstance(cell.value, float):
                cell.number_format = "0.0"
    sheet.freeze_panes = "B2"


def _index_cell(
    t: Texts, report: UnitReport, round_id: int, construct: str, unit_id: int | None = None
) -> Cell:
    """A number where one is published, the published range as text, None where hidden."""
    unit = report.unit_id if unit_id is None else unit_id
    text = index_text(t, report, round_id, unit, construct)
    if text == "–":
        return None
    figure = report.published.get((round_id, unit), not_published())
    entry = construct_of(figure, construct)
    if entry is not None and "range" not in entry:
        return round(float(entry["index"]), 1)
    return text


#: A text starting with one of these is a formula to a spreadsheet ("CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defused(cell: Cell) -> Cell:
    """People's own words (an action, a unit's name) as text, never as a formula: a leading
    quote makes Excel and LibreOffice show it as written."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _csv_cell(t: Texts, cell: Cell) -> str:
    cell = defused(cell)
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return t.number(cell, 3 if cell < 1 else 1).rstrip("0").rstrip(",.") or "0"
    return str(cell)
