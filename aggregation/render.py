"""Reports as Telegram text (HTML parse mode), CSV and XLSX: only published, audited figures."""

from __future__ import annotations

import html
import math
import re
from datetime import date
from typing import Any

from aggregation.findings import Change, Finding, changes, ranked_findings
from aggregation.report import ActionRow, Alert, FollowUp, UnitReport, trend_rows
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
    if findings:
        lines += ["", "<b>" + esc(t._("To do now")) + "</b>"]
        for number, finding in enumerate(findings, 1):
            lines.append(f"{number}. " + esc(finding_sentence(t, report, finding, language)))
            lines.append("   → " + esc(finding_advice(t, finding, language)))

    moved = changes(report)
    rows = [row for row in trend_rows(report) if not math.isnan(row.index)]
    if rows:
        lines += ["", "<b>" + esc(t._("Indices (0–100)")) + "</b>"]
    for row in rows:
        label = construct_label(report, row.construct, language)
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

    shares = unfavourable_answers(report, language)
    if shares:
        lines += ["", "<b>" + esc(t._("Unfavourable answers")) + "</b>"]
        for share, labels, text in shares[:6]:
            lines.append(
                "• "
                + esc(
                    t._('{share} answered {answers}: "{question}"').format(
                        share=share, answers=t._(" or ").join(labels), question=text
                    )
                )
            )

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


def construct_label(report: UnitReport, construct: str, language: str) -> str:
    labels = report.construct_labels.get(construct, {})
    return labels.get(language) or next(iter(labels.values()), construct)


def change_text(t: Texts, change: Change) -> str:
    """ "+7 since the last round" - with ", a clear rise" only where chance cannot explain it."""
    if change.rounds == 1:
        text = t._("{change} since the last round").format(change=t.signed(change.delta))
    else:
        text = t._("{change} against the mean of the {n} rounds before").format(
            change=t.signed(change.delta), n=t.count_word(change.rounds)
        )
    if not change.clear:
        return text
    return text + ", " + (t._("a clear rise") if change.delta > 0 else t._("a clear fall"))


def finding_sentence(t: Texts, report: UnitReport, finding: Finding, language: str) -> str:
    if finding.alert is not None:
        return alert_sentence(t, report, finding.alert, language)
    assert finding.change is not None
    change = finding.change
    label = construct_label(report, change.construct, language)
    if change.rounds == 1:
        return t._(
            "{construct} changed for the worse: {change} since the last round, more than "
            "chance allows for this group (±{margin})."
        ).format(construct=label, change=t.signed(change.delta), margin=t.number(change.margin))
    return t._(
        "{construct} changed for the worse: {change} against the mean of the {n} rounds "
        "before, more than chance allows for this group (±{margin})."
    ).format(
        construct=label,
        change=t.signed(change.delta),
        n=t.count_word(change.rounds),
        margin=t.number(change.margin),
    )


def finding_advice(t: Texts, finding: Finding, language: str) -> str:
    if finding.alert is not None:
        advice = finding.alert.advice
        return advice.get(language) or advice.get("en", "")
    return t._(
        "Ask the team what lies behind it at the next workplace meeting, together with the "
        "safety representative (skyddsombud); investigate, act and follow up (AFS 2023:2)."
    )


def hidden_reason(t: Texts, figure: dict[str, Any], k: int, closed: str, where: str) -> str:
    """Why a unit shows nothing, truthfully and without telling more than the rules allow: a
    unit is hidden for its roster (too few members), for its neighbours (showing it would let a
    smaller group be worked out by subtraction), or because fewer than k answered in the part
    of it that is not shown on its own."""
    if figure.get("reason") == "members":
        return t._(
            "Round closed {date}: this unit is not shown on its own, because it (or the part "
            "of the unit above it that is left over) has fewer than {members} members. The "
            "answers are included in {parent}."
        ).format(date=closed, members=figure.get("min_members", k + 1), parent=where)
    if figure.get("reason") == "neighbours":
        return t._(
            "Round closed {date}: this unit is not shown on its own, because its figures would "
            "let a smaller group next to it be worked out by subtraction. The answers are "
            "included in {parent}."
        ).format(date=closed, parent=where)
    return t._(
        "Round closed {date}: fewer than {k} answered here (not counting sub-units shown on "
        "their own), so nothing is shown for this unit. The answers are included in {parent}."
    ).format(date=closed, k=k, parent=where)


def answered_text(t: Texts, figure: dict[str, Any], rate: float) -> str:
    """ "12 answered (80 %)", or "at least 12 answered" where the group's count was capped
    (P6: nobody, not even a colleague who knows who was on leave, can tell that everyone else
    answered)."""
    n = figure["respondents"]
    if figure.get("respondents_at_least"):
        text = t._("at least {n} answered").format(n=n)
        if not math.isnan(rate):
            floor = math.floor(rate * 100 + 1e-9) / 100  # "at least" must not round up
            share = t._("at least {share}").format(share=t.percent(floor))
            text += f" ({share})"
        return text
    text = t._("{n} answered").format(n=n)
    if not math.isnan(rate):
        text += f" ({t.percent(rate)})"
    return text


def index_text(
    t: Texts, report: UnitReport, round_id: int, unit_id: int | None, construct: str
) -> str:
    """An index as published: the value, or its range where the group's answers were so
    extreme that the exact value could pin someone's answer."""
    figure = report.published.get((round_id, unit_id), {}) if unit_id is not None else {}
    entry = figure.get("constructs", {}).get(construct, {})
    if "range" in entry:
        low, high = entry["range"]
        return f"{t.number(low)}–{t.number(high)}"
    return t.number(entry["index"]) if "index" in entry else "–"


def share_text(t: Texts, figure: dict[str, Any]) -> str:
    if "unfavourable_range" in figure:
        low, high = figure["unfavourable_range"]
        if high >= 1.0:
            return t._("at least {share}").format(share=t.percent(low))
        if low <= 0.0:
            return t._("at most {share}").format(share=t.percent(high))
        return f"{t.percent(low)}–{t.percent(high)}"
    return t.percent(figure["unfavourable_share"])


def unfavourable_answers(report: UnitReport, language: str) -> list[tuple[str, list[str], str]]:
    t = Texts(language)
    found = []
    for key, figure in report.latest.get("items", {}).items():
        share = figure.get("unfavourable_share")
        item = report.items.get(key)
        if share is None or item is None or share == 0:
            continue
        labels = item["unfavourable_labels"].get(language) or []
        text = item["text"].get(language) or next(iter(item["text"].values()))
        found.append((share, share_text(t, figure), labels, text))
    return [(shown, labels, text) for _, shown, labels, text in sorted(found, key=lambda e: -e[0])]


def alert_sentence(t: Texts, report: UnitReport, alert: Alert, language: str) -> str:
    item = report.items.get(alert.item, {})
    labels = item.get("construct_label") or report.construct_labels.get(item.get("construct", ""))
    label = (labels or {}).get(language) or next(iter((labels or {}).values()), alert.item)
    finding = alert.finding
    if alert.rule == "share_unfavourable":
        shares = ", ".join(t.percent(s) for s in finding["shares"])
        return t.ngettext(
            "{item}: unfavourable answers at or above {threshold} in the latest round ({shares}).",
            "{item}: unfavourable answers at or above {threshold} for {rounds} rounds in a row "
            "({shares}).",
            finding["rounds"],
        ).format(
            item=label,
            threshold=t.percent(finding["threshold"]),
            rounds=finding["rounds"],
            shares=shares,
        )
    if alert.rule == "index_at_least":
        return t._("{construct} index is {index}, at or above {threshold}.").format(
            construct=label,
            index=t.number(finding["index"]),
            threshold=t.number(finding["threshold"]),
        )
    if alert.rule == "index_at_most":
        return t._("{construct} index is {index}, at or below {threshold}.").format(
            construct=label,
            index=t.number(finding["index"]),
            threshold=t.number(finding["threshold"]),
        )
    return t._("{construct} index fell from {before} to {index} since the last round.").format(
        construct=label, before=t.number(finding["before"]), index=t.number(finding["index"])
    )


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


def action_status(t: Texts, status: str) -> str:
    labels: dict[str, str] = {
        ActionStatus.PLANNED: t._("planned"),
        ActionStatus.ONGOING: t._("ongoing"),
        ActionStatus.DONE: t._("done"),
    }
    return labels.get(status, status)


def followup_text(t: Texts, followup: FollowUp) -> str:
    """The follow-up answer as published, or why there is none (yet)."""
    if followup.closed_at is None:
        return t._("Follow-up question: asked in the check-in that is open now.")
    mean = followup.mean_range
    when = t.week(followup.closed_at)
    if mean is None or followup.figure is None:
        return t._("Follow-up question ({week}): not shown, fewer than {k} answered.").format(
            week=when, k=followup.k
        )
    low, high = mean
    value = t.number(low, 1) if high - low < 0.05 else f"{t.number(low, 1)}–{t.number(high, 1)}"
    answers = t.ngettext("{n} answer", "{n} answers", followup.figure["n"]).format(
        n=followup.figure["n"]
    )
    return t._("Follow-up question ({week}): made a difference? {value} of 5 ({answers}).").format(
        week=when, value=value, answers=answers
    )


def comment_author(t: Texts, role: str) -> str:
    """ "Skyddsombud", "Chef": who wrote a comment, as the start of a line."""
    name = t.role(role)
    return name[:1].upper() + name[1:]


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
    """A worker's results after a round, as one short Telegram message (HTML)."""
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
