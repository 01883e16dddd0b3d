"""What a manager should look at first: the alerts and the changes that matter, ranked.

A change is called clear only when it is larger than chance allows for the group sizes: two
rounds of n1 and n2 answers differ by chance with a standard error of s·√(1/n1 + 1/n2). The
spread s is a fixed, conservative figure on the 0–100 index scale (PULSE_CHANGE_SPREAD), never a
group's own variance, which would tell something about how its members answered (P6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aggregation.alerts import Alert
from aggregation.report import UnitReport

#: Two-sided 95 %: a change this many standard errors away is called clear.
Z_95 = 1.96


@dataclass(frozen=True)
class Change:
    construct: str
    #: Latest index minus the earlier figure it is compared with.
    delta: float
    #: How large a difference chance alone gives for the group sizes involved (95 %).
    margin: float
    #: For the people: True when the change is for the worse, False for the better.
    worse: bool
    #: Against the round before (1) or the mean of up to four rounds before (their number).
    rounds: int = 1

    @property
    def clear(self) -> bool:
        return abs(self.delta) > self.margin


@dataclass(frozen=True)
class Changes:
    """A construct's latest index against the round before and against its recent mean."""

    previous: Change | None
    baseline: Change | None


@dataclass(frozen=True)
class Finding:
    """One thing to act on: an alert of the question set, or a clear change for the worse."""

    construct: str
    score: float
    alert: Alert | None = None
    change: Change | None = None


def change_margin(spread: float, now: float, before: Sequence[float]) -> float:
    """95 % margin of the latest mean minus the mean of ``before`` rounds' means."""
    variance = 1 / now + sum(1 / n for n in before) / len(before) ** 2
    return Z_95 * spread * math.sqrt(variance)


def changes(report: UnitReport) -> dict[str, Changes]:
    """Per construct shown in its latest round: the change since the previous round that
    showed it, and against the mean of up to four such rounds, each with its margin."""
    found: dict[str, Changes] = {}
    rounds = [ref.round_id for ref in report.rounds]
    for column in report.indices.columns:
        construct = str(column)
        shown = report.indices[construct].notna() & report.asked[construct].astype(bool)
        ids = [r for r in rounds if bool(shown.get(r, False))]
        if len(ids) < 2 or ids[-1] != _latest_asked(report, construct, rounds):
            continue
        indices = report.indices[construct].to_dict()
        sizes = report.respondents.to_dict()
        points = [(float(indices[r]), float(sizes.get(r) or "nan")) for r in ids]
        if any(math.isnan(size) or size <= 0 for _, size in points):
            continue
        window = points[-5:-1]
        found[construct] = Changes(
            previous=_against(report, construct, points[-1], points[-2:-1]),
            baseline=_against(report, construct, points[-1], window) if len(window) >= 2 else None,
        )
    return found


def _against(
    report: UnitReport,
    construct: str,
    latest: tuple[float, float],
    earlier: Sequence[tuple[float, float]],
) -> Change:
    """The latest (index, respondents) against the mean index of ``earlier`` rounds."""
    delta = latest[0] - sum(index for index, _ in earlier) / len(earlier)
    higher_is_worse = report.construct_better.get(construct) != "higher_is_better"
    return Change(
        construct=construct,
        delta=delta,
        margin=change_margin(report.change_spread, latest[1], [n for _, n in earlier]),
        worse=(delta > 0) == higher_is_worse,
        rounds=len(earlier),
    )


def ranked_findings(report: UnitReport, limit: int = 3) -> list[Finding]:
    """The few things to do first: alerts by how persistent and how far past their threshold,
    then clear changes for the worse that no alert already names."""
    findings = [
        Finding(_construct_of(report, alert), _severity(alert), alert=alert)
        for alert in report.alerts
    ]
    named = {finding.construct for finding in findings}
    for moved in changes(report).values():
        candidates = [c for c in (moved.previous, moved.baseline) if c and c.clear and c.worse]
        if not candidates:
            continue
        change = max(candidates, key=lambda c: abs(c.delta) / c.margin)
        if change.construct in named:
            continue
        findings.append(
            Finding(change.construct, 0.5 + abs(change.delta) / change.margin / 2, change=change)
        )
    return sorted(findings, key=lambda finding: -finding.score)[:limit]


def _latest_asked(report: UnitReport, construct: str, rounds: list[int]) -> int | None:
    asked = [r for r in rounds if bool(report.asked[construct].get(r, False))]
    return asked[-1] if asked else None


def _construct_of(report: UnitReport, alert: Alert) -> str:
    return str(report.items.get(alert.item, {}).get("construct", ""))


def _severity(alert: Alert) -> float:
    finding = alert.finding
    if alert.rule == "share_unfavourable":
        threshold = max(float(finding["threshold"]), 0.1)
        excess = (max(finding["shares"]) - threshold) / threshold
        return float(finding["rounds"]) + excess
    if alert.rule == "index_drop":
        return 1.0 + (finding["before"] - finding["index"] - finding["threshold"]) / 20
    return 1.0 + abs(finding["index"] - finding["threshold"]) / 20
