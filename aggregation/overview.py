"""What needs attention across a grant: the findings of every unit a reader may see, ranked
together, each naming its unit, and each unit's participation - for the dashboard's first page.

Nothing new is published: every sentence comes from the audited report of its unit
(aggregation.report), the same report the bot and the HTML file show, so a unit hidden there
says nothing here either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aggregation.findings import Finding, ranked_findings
from aggregation.report import UnitReport
from aggregation.wording import answered_text, finding_advice, finding_sentence
from survey.enrolment import UnitNode
from survey.i18n import Texts


@dataclass(frozen=True)
class Attention:
    """One thing to act on, in one unit."""

    unit_id: int
    unit_name: str
    sentence: str
    advice: str
    score: float


@dataclass(frozen=True)
class UnitLine:
    """A unit of the grant in tree order: shown on its own or not, and who answered last."""

    unit_id: int
    name: str
    depth: int
    shown: bool
    answered: str


@dataclass(frozen=True)
class Overview:
    attention: list[Attention]
    units: list[UnitLine]


def grant_overview(
    nodes: list[UnitNode],
    report_of: Callable[[int], UnitReport],
    language: str,
    per_unit: int = 3,
) -> Overview:
    """The grant's findings ranked by how urgent, and its units with their participation.
    ``nodes``: the units of the grant in tree order; ``report_of``: the audited report of one."""
    t = Texts(language)
    attention: list[Attention] = []
    units: list[UnitLine] = []
    top = nodes[0].depth if nodes else 0
    for node in nodes:
        report = report_of(node.unit.id)
        shown = bool(report.latest.get("shown")) and report.latest_round is not None
        answered = (
            answered_text(t, report.latest, float(report.response_rate.iloc[-1]))
            if shown
            else t._("not shown on its own")
        )
        units.append(UnitLine(node.unit.id, node.unit.name, node.depth - top, shown, answered))
        if not shown:
            continue
        for finding in ranked_findings(report, limit=per_unit):
            attention.append(_attention(t, report, finding, language))
    attention.sort(key=lambda item: -item.score)
    return Overview(attention, units)


def _attention(t: Texts, report: UnitReport, finding: Finding, language: str) -> Attention:
    return Attention(
        report.unit_id,
        report.unit_name,
        finding_sentence(t, report, finding, language),
        finding_advice(t, finding, language),
        finding.score,
    )
