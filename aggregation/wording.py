"""What every surface says about a report: the same sentences in the chat, the HTML file, the
exports and the CLI, from published, audited figures only (hidden cells carry their own reason).
"""

from __future__ import annotations

import math
from datetime import datetime

from aggregation.alerts import Alert
from aggregation.findings import Change, Finding
from aggregation.report import FollowUp, UnitReport
from survey.figures import ItemFigure, UnitFigure, construct_of
from survey.i18n import Texts
from survey.storage.models import ActionStatus


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


def hidden_reason(t: Texts, figure: UnitFigure, k: int, closed: str, where: str) -> str:
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


def answered_text(t: Texts, figure: UnitFigure, rate: float) -> str:
    """ "12 answered (80 %)", or "at least 12 answered" where the group's count was capped
    (P6: nobody, not even a colleague who knows who was on leave, can tell that everyone else
    answered)."""
    n = figure.get("respondents", 0)
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
    figure = report.published.get((round_id, unit_id)) if unit_id is not None else None
    entry = construct_of(figure, construct) if figure is not None else None
    if entry is None:
        return "–"
    if "range" in entry:
        low, high = entry["range"]
        return f"{t.number(low)}–{t.number(high)}"
    return t.number(entry["index"])


def share_text(t: Texts, figure: ItemFigure) -> str:
    if "unfavourable_range" in figure:
        low, high = figure["unfavourable_range"]
        if high >= 1.0:
            return t._("at least {share}").format(share=t.percent(low))
        if low <= 0.0:
            return t._("at most {share}").format(share=t.percent(high))
        return f"{t.percent(low)}–{t.percent(high)}"
    return t.percent(figure.get("unfavourable_share", 0.0))


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
        # The value first, then what it is measured against (docs: say things once, plainly).
        *earlier, latest = finding["shares"]
        said = t._("{item}: {share} answered unfavourably").format(
            item=label, share=t.percent(latest)
        )
        if earlier:
            said += (
                " ("
                + t.ngettext(
                    "the round before: {shares}", "the rounds before: {shares}", len(earlier)
                ).format(shares=", ".join(t.percent(s) for s in earlier))
                + ")"
            )
        return said + t.ngettext(
            ", at or above the limit of {threshold}.",
            ", at or above the limit of {threshold} {rounds} rounds in a row.",
            finding["rounds"],
        ).format(threshold=t.percent(finding["threshold"]), rounds=t.count_word(finding["rounds"]))
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


def too_late_for_a_note(t: Texts, closed_at: datetime) -> str:
    """A note refused because the round's results went out already (survey.actions)."""
    return t._(
        "The results of {week} have already gone out. Write your note when the next "
        "round has closed; you get its report then."
    ).format(week=t.week(closed_at))
