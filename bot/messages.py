"""Reports and results as Telegram messages: HTML parse mode, split within Telegram's 4,096
characters. The sentences come from aggregation.wording; this module lays them out for the chat.
"""

from __future__ import annotations

import html
import math
import re
from datetime import date

from aggregation.findings import changes, ranked_findings
from aggregation.report import ActionRow, RoundRef, UnitReport
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
from aggregation.worker_summary import WorkerSummary
from survey.i18n import Texts
from survey.storage.models import ActionStatus

TELEGRAM_LIMIT = 4096


def report_text(report: UnitReport, language: str) -> list[str]:
    """The report as Telegram messages (HTML), each under Telegram's 4096-character limit:
    what to do first, then the indices with the changes that exceed chance marked, then the
    unfavourable answers and any further alerts."""
    t = Texts(language)
    esc = html.escape
    lines = ["<b>" + esc(t._("Staff Pulse")) + " – " + esc(report.unit_name) + "</b>"]
    latest = report.latest_round
    if latest is None:
        lines.append(esc(t._("No closed round yet: results appear when a round closes.")))
        return split_messages(lines)
    figures = report.latest
    k = latest.k
    closed = t.date(latest.closed_at)
    if not figures.get("shown"):
        where = report.parent_name or report.org_name
        lines.append(esc(hidden_reason(t, figures, k, closed, where)))
        return split_messages(lines)
    lines.append(
        esc(
            t._("Round of {week}, closed {date}").format(week=t.week(latest.closed_at), date=closed)
        )
        + f" · {esc(answered_text(t, figures, report.response_rate.iloc[-1]))}"
    )
    findings = ranked_findings(report)
    # Always there, so that its absence never has to be read as "nothing to do".
    lines += ["", "<b>" + esc(t._("To do now")) + "</b>"]
    if not findings:
        lines.append(esc(t._("Nothing that calls for action right now.")))
    for number, finding in enumerate(findings, 1):
        lines.append(f"{number}. " + esc(finding_sentence(t, report, finding, language)))
        lines.append("   → " + esc(finding_advice(t, finding, language)))
    lines += _index_lines(t, report, latest)
    lines += _unfavourable_lines(t, report)
    first = {id(finding.alert) for finding in findings if finding.alert is not None}
    rest = [alert for alert in report.alerts if id(alert) not in first]
    if rest:
        lines += ["", "<b>⚠ " + esc(t._("More alerts")) + "</b>"]
        for alert in rest:
            lines.append("• " + esc(alert_sentence(t, report, alert, language)))
            lines.append("  → " + esc(alert.advice.get(language) or alert.advice.get("en", "")))
    if report.actions:
        today = latest.closed_at.date()
        lines += ["", "<b>" + esc(t._("Actions")) + "</b>"]
        for action in report.actions[:8]:
            lines += ["• " + "\n  ".join(action_lines(t, action, today, report))]
        if len(report.actions) > 8:
            lines.append(esc(t._("All of them: /actions")))
    lines += [
        "",
        "<i>"
        + esc(
            t._(
                "Changes are marked clear only where they are larger than chance allows for "
                "the number who answered. Figures for fewer than {k} answers are never shown."
            ).format(k=k)
        )
        + "</i>",
    ]
    return split_messages(lines)


def _index_lines(t: Texts, report: UnitReport, latest: RoundRef) -> list[str]:
    """Each area's latest index, with clear changes and the units above it for comparison."""
    esc = html.escape
    moved = changes(report)
    rows = [row for row in trend_rows(report) if not math.isnan(row.index)]
    lines = ["", "<b>" + esc(t._("Indices (0–100)")) + "</b>"] if rows else []
    for row in rows:
        label = construct_label(report, row.construct, t.language)
        direction = (
            t._("higher is better")
            if report.construct_better.get(row.construct) == "higher_is_better"
            else t._("higher is worse")
        )
        shown_value = index_text(t, report, row.round_id, report.unit_id, row.construct)
        parts = [f"{esc(label)}: <b>{esc(shown_value)}</b> ({esc(direction)})"]
        if row.round_id != latest.round_id:
            asked_on = next(r for r in report.rounds if r.round_id == row.round_id)
            parts.append(esc(t._("asked {week}").format(week=t.week(asked_on.closed_at))))
        moves = moved.get(row.construct)
        if moves is not None and moves.previous is not None:
            parts.append(esc(change_text(t, moves.previous)))
        if moves is not None and moves.baseline is not None:
            parts.append(esc(change_text(t, moves.baseline)))
        if report.parent_name and report.parent_id != report.org_id and not math.isnan(row.parent):
            value = index_text(t, report, row.round_id, report.parent_id, row.construct)
            parts.append(f"{esc(report.parent_name)} {esc(value)}")
        if report.org_id != report.unit_id and not math.isnan(row.organisation):
            value = index_text(t, report, row.round_id, report.org_id, row.construct)
            parts.append(f"{esc(report.org_name)} {esc(value)}")
        lines.append("• " + " · ".join(parts))
    return lines


def _unfavourable_lines(t: Texts, report: UnitReport) -> list[str]:
    """The latest round's most frequent unfavourable answers, at most six."""
    esc = html.escape
    shares = unfavourable_answers(report, t.language)
    if not shares:
        return []
    lines = ["", "<b>" + esc(t._("Unfavourable answers")) + "</b>"]
    for share, labels, text in shares[:6]:
        lines.append(
            "• "
            + esc(
                t._('{share} answered {answers}: "{question}"').format(
                    share=share, answers=t._(" or ").join(labels), question=text
                )
            )
        )
    return lines


def split_messages(lines: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join lines into messages under ``limit`` characters, breaking only between lines; a
    single line longer than that loses its markup and is cut at spaces, never inside a tag or
    an entity (Telegram refuses a message whose HTML does not parse)."""
    messages, current = [], ""
    for line in lines:
        if len(line) > limit:
            line = re.sub(r"<[^>]*>", "", line)
            while len(line) > limit:
                cut = line.rfind(" ", 0, limit)
                cut = cut if cut > 0 else limit
                if "&" in line[max(0, cut - 8) : cut]:  # do not split an entity such as &amp;
                    amp = line.rfind("&", 0, cut)
                    cut = amp if ";" not in line[amp:cut] and amp > 0 else cut
                head, line = line[:cut].rstrip(), line[cut:].lstrip()
                if current:
                    messages.append(current)
                    current = ""
                messages.append(head)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            messages.append(current)
            current = line
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def action_lines(
    t: Texts, action: ActionRow, today: date, report: UnitReport | None = None
) -> list[str]:
    """An action as HTML lines: what, where, who, when, status; comments; its follow-up."""
    esc = html.escape
    status = action_status(t, action.status)
    if action.overdue(today):
        status += " – " + t._("overdue")
    head = f"<b>{esc(action.title)}</b> ({esc(action.unit_name)})"
    if report is not None and action.construct:
        head += " · " + esc(construct_label(report, action.construct, t.language))
    detail = t._("Owner: {owner} · due {date} · {status}").format(
        owner=action.owner, date=t.date(action.due_on), status=status
    )
    lines = [head, esc(detail)]
    for role, text, written_on in action.comments:
        author = comment_author(t, role)
        lines.append(f"💬 <i>{esc(author)}, {esc(t.date(written_on))}:</i> {esc(text)}")
    if action.followup is not None:
        lines.append(esc(followup_text(t, action.followup)))
    return lines


def worker_summary_text(summary: WorkerSummary, language: str) -> str:
    """A worker's results after a round, as one short Telegram message (HTML).

    Long because it lays out the message top to bottom, line by line as the worker reads it.
    """
    t = Texts(language)
    esc = html.escape
    week = t.week(summary.closed_at)
    lines = ["<b>" + esc(t._("Results of {week}").format(week=week)) + "</b>"]
    report = summary.report
    if report is None:
        if summary.own_reason == "members":
            nothing = t._(
                "Your unit and the units around it have too few members for results to be "
                "shown. Nobody sees figures for fewer than {k} people."
            )
        else:
            nothing = t._(
                "Too few answered in your unit and the units around it for any results to "
                "be shown this time. Nobody sees figures for fewer than {k} people."
            )
        lines.append(esc(nothing.format(k=summary.k)))
    else:
        if summary.own_unit:
            where = t._("{unit}:").format(unit=summary.group_name)
        elif summary.own_reason == "members":
            where = t._("{unit} (your unit has too few members to be shown on its own):").format(
                unit=summary.group_name
            )
        elif summary.own_reason == "neighbours":
            where = t._(
                "{unit} (your unit is not shown on its own, so that a smaller group next to it "
                "cannot be worked out):"
            ).format(unit=summary.group_name)
        else:
            where = t._(
                "{unit} (too few answered in your unit this time to show it on its own):"
            ).format(unit=summary.group_name)
        lines.append(esc(where))
        if summary.band is not None:
            low, high = summary.band
            band = (
                t._("at least {low} % answered").format(low=low)
                if high >= 100
                else t._("{low}–{high} % answered").format(low=low, high=high)
            )
            lines.append("• " + esc(band))
        for area in summary.areas:
            label = construct_label(report, area.construct, language)
            direction = t._("higher is better") if area.better_high else t._("higher is worse")
            latest = report.latest_round
            assert latest is not None
            value = index_text(t, report, latest.round_id, report.unit_id, area.construct)
            text = f"{label}: {value} ({direction})"
            if area.change is not None and area.change.clear:
                text += ", " + change_text(t, area.change)
            lines.append("• " + esc(text))
    for unit_name, note in summary.notes:
        lines += [
            "",
            "<b>" + esc(t._("From your manager ({unit})").format(unit=unit_name)) + "</b>",
        ]
        lines.append(esc(note))
    if summary.new_actions:
        lines += ["", "<b>" + esc(t._("New actions")) + "</b>"]
        for action in summary.new_actions:
            lines.append("• " + esc(_action_for_workers(t, action)))
    if summary.done_actions:
        lines += ["", "<b>" + esc(t._("Actions done")) + "</b>"]
        for action in summary.done_actions:
            lines.append("• " + esc(_action_for_workers(t, action)))
    lines += [
        "",
        "<i>"
        + esc(
            t._(
                "Only figures for groups of at least {k} people are ever shown. Turn these "
                "summaries off or on with /settings."
            ).format(k=summary.k)
        )
        + "</i>",
    ]
    return "\n".join(lines)


def _action_for_workers(t: Texts, action: ActionRow) -> str:
    text = t._("{title} ({unit}), owner {owner}, due {date}").format(
        title=action.title, unit=action.unit_name, owner=action.owner, date=t.date(action.due_on)
    )
    if action.status == ActionStatus.DONE and action.done_on is not None:
        text = t._("{title} ({unit}), done {date}").format(
            title=action.title, unit=action.unit_name, date=t.date(action.done_on)
        )
    return text
