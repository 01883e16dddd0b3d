"""A self-contained HTML report (one file: charts embedded, nothing fetched), from a Jinja2
template with autoescaping, readable on a phone and printable on A4 for the safety committee.

The page shows what the Telegram report shows, laid out for reading: what to do first, the
indices with the changes that exceed chance marked, the sub-units, trends, the unfavourable
answers and participation. Every figure comes from the audited ``UnitReport``.
"""

from __future__ import annotations

import base64
import functools
import math
from datetime import date
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from aggregation.charts import response_rate_chart, trend_chart
from aggregation.findings import Change, changes, ranked_findings
from aggregation.report import UnitReport
from aggregation.trends import trend_rows
from aggregation.wording import (
    action_status,
    alert_sentence,
    answered_text,
    change_text,
    comment_author,
    construct_label,
    finding_advice,
    finding_sentence,
    followup_text,
    hidden_reason,
    index_text,
    unfavourable_answers,
)
from survey.i18n import Texts


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("aggregation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def report_html(
    report: UnitReport,
    language: str,
    trend_png: bytes | None = None,
    heatmap_png: bytes | None = None,
) -> str:
    """The page; pass ``trend_png`` when the chart was drawn already (drawing it is the slow
    part), and ``heatmap_png`` for the sub-units section."""
    t = Texts(language)
    context: dict[str, Any] = {
        "lang": language,
        "_": t._,
        "unit": report.unit_name,
        "footer": t._(
            "Figures for fewer than {k} answers are never shown, and no figure lets a smaller "
            "group be worked out by subtraction."
        ).format(k=report.rounds[-1].k if report.rounds else 5)
        + " "
        + t._(
            "“At least” before a count: to keep anyone from working out that everyone else "
            "answered, a group's count is published as a lower bound when nearly all answered."
        ),
    }
    context.update(report_headline(report, t))
    if context["hidden"] is not None and report.latest_round is None:
        return _environment().get_template("report.html.j2").render(context)
    if context["latest"] is not None:
        context.update(report_sections(report, t, language))
    if report.rounds:
        trend = trend_png if trend_png is not None else trend_chart(report, language)
        context["trend"] = _inline(trend)
        context["rate_chart"] = _inline(response_rate_chart(report, language))
        context["participation"] = participation_rows(report, t)
    if heatmap_png is not None:
        context["heatmap"] = _inline(heatmap_png)
    context["actions"] = action_rows(report, t, language)
    return _environment().get_template("report.html.j2").render(context)


def report_headline(report: UnitReport, t: Texts) -> dict[str, str | None]:
    """The line under the unit's name (which round, who answered), or why nothing is shown:
    {"latest": ..., "hidden": ...}, one of them None."""
    latest = report.latest_round
    if latest is None:
        return {
            "latest": None,
            "hidden": t._("No closed round yet: results appear when a round closes."),
        }
    figures = report.latest
    closed = t.date(latest.closed_at)
    if not figures.get("shown"):
        where = report.parent_name or report.org_name
        return {"latest": None, "hidden": hidden_reason(t, figures, latest.k, closed, where)}
    return {
        "latest": t._("Round of {week}, closed {date}").format(
            week=t.week(latest.closed_at), date=closed
        )
        + " · "
        + answered_text(t, figures, float(report.response_rate.iloc[-1])),
        "hidden": None,
    }


def participation_rows(report: UnitReport, t: Texts) -> list[dict[str, str]]:
    """Who answered in each round, oldest first, as published ("not shown" where hidden)."""
    return [
        {
            "week": f"{t.week(ref.closed_at)} ({t.date(ref.closed_at)})",
            "answered": answered_text(t, report.published[(ref.round_id, report.unit_id)], rate)
            if (ref.round_id, report.unit_id) in report.published and not math.isnan(rate)
            else t._("not shown"),
        }
        for ref, rate in zip(report.rounds, report.response_rate.tolist(), strict=True)
    ]


def action_rows(report: UnitReport, t: Texts, language: str) -> list[dict[str, Any]]:
    """The actions of the unit and its sub-units, with comments and the follow-up answer."""
    today = date.today()
    rows = []
    for action in report.actions:
        status = action_status(t, action.status)
        if action.overdue(today):
            status += " – " + t._("overdue")
        rows.append(
            {
                "title": action.title,
                "unit": action.unit_name,
                "area": construct_label(report, action.construct, language)
                if action.construct
                else "",
                "owner": action.owner,
                "due": t.date(action.due_on),
                "status": status,
                "comments": [
                    f"{comment_author(t, role)}, {t.date(day)}: {text}"
                    for role, text, day in action.comments
                ],
                "followup": followup_text(t, action.followup) if action.followup else "",
            }
        )
    return rows


def report_sections(report: UnitReport, t: Texts, language: str) -> dict[str, Any]:
    """The report's sections in page order. Long because each section is a few lines of the
    same shape, read top to bottom like the page."""
    latest = report.latest_round
    assert latest is not None
    findings = ranked_findings(report)
    moved = changes(report)
    indices = []
    for row in trend_rows(report):
        if math.isnan(row.index):
            continue
        moves = moved.get(row.construct)
        asked = ""
        if row.round_id != latest.round_id:
            asked_on = next(r for r in report.rounds if r.round_id == row.round_id)
            asked = t._("asked {week}").format(week=t.week(asked_on.closed_at))
        indices.append(
            {
                "label": construct_label(report, row.construct, language),
                "direction": t._("higher is better")
                if report.construct_better.get(row.construct) == "higher_is_better"
                else t._("higher is worse"),
                "asked": asked,
                "value": index_text(t, report, row.round_id, report.unit_id, row.construct),
                "previous": _short(t, moves.previous if moves else None),
                "previous_title": change_text(t, moves.previous)
                if moves and moves.previous
                else "",
                "previous_class": _marked(moves.previous if moves else None),
                "baseline": _short(t, moves.baseline if moves else None),
                "baseline_title": change_text(t, moves.baseline)
                if moves and moves.baseline
                else "",
                "baseline_class": _marked(moves.baseline if moves else None),
                "parent": index_text(t, report, row.round_id, report.parent_id, row.construct),
                "organisation": index_text(t, report, row.round_id, report.org_id, row.construct),
            }
        )
    first = {id(finding.alert) for finding in findings if finding.alert is not None}
    shares = [
        t._('{share} answered {answers}: "{question}"').format(
            share=share, answers=t._(" or ").join(labels), question=text
        )
        for share, labels, text in unfavourable_answers(report, language)[:8]
    ]
    return {
        "findings": [
            {
                "sentence": finding_sentence(t, report, finding, language),
                "advice": finding_advice(t, finding, language),
            }
            for finding in findings
        ],
        "indices": indices,
        # The parent column only where it is not the whole organisation (no column twice).
        "parent": report.parent_name if report.parent_id not in (None, report.org_id) else None,
        "organisation": report.org_name if report.org_id != report.unit_id else None,
        "shares": shares,
        "more_alerts": [
            {
                "sentence": alert_sentence(t, report, alert, language),
                "advice": alert.advice.get(language) or alert.advice.get("en", ""),
            }
            for alert in report.alerts
            if id(alert) not in first
        ],
    }


def _short(t: Texts, change: Change | None) -> str:
    """A change as a table cell: "+16", with an arrow where it exceeds chance."""
    if change is None:
        return "–"
    arrow = (" ▲" if change.delta > 0 else " ▼") if change.clear else ""
    return t.signed(change.delta) + arrow


def _marked(change: Change | None) -> str:
    if change is None or not change.clear:
        return ""
    return "clear-worse" if change.worse else "clear-better"


def _inline(png: bytes) -> str:
    return base64.b64encode(png).decode()
