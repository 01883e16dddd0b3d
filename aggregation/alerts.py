"""The question sets' alert rules (e.g. stress above 30 % unfavourable two rounds running) on a
unit's published figures: alerts read only what the report may show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from survey.figures import UnitFigure, construct_of, item_of

if TYPE_CHECKING:
    from aggregation.report import UnitReport


@dataclass(frozen=True)
class Alert:
    item: str
    rule: str
    #: Plain words: which rule fired and on what figures.
    finding: dict[str, Any]
    advice: dict[str, str]


def evaluate_alerts(report: UnitReport, series: list[UnitFigure]) -> list[Alert]:
    """The question sets' alert rules on the unit's published figures, latest round last."""
    if not series or not series[-1].get("shown"):
        return []
    alerts = []
    latest = series[-1]
    for key, item in report.items.items():
        for rule in item["alerts"]:
            kind, threshold = rule["kind"], rule["threshold"]
            finding: dict[str, Any] | None = None
            if kind == "share_unfavourable":
                run = rule["consecutive_rounds"]
                shares = [_share(f, key) for f in series[-run:]]
                if len(shares) == run and all(s is not None and s >= threshold for s in shares):
                    finding = {"shares": shares, "threshold": threshold, "rounds": run}
            else:
                construct = item["construct"]
                now = construct_of(latest, construct)
                if now is None:
                    continue
                index = now["index"]
                if (kind == "index_at_least" and index >= threshold) or (
                    kind == "index_at_most" and index <= threshold
                ):
                    finding = {"index": index, "threshold": threshold, "construct": construct}
                elif kind == "index_drop" and len(series) >= 2:
                    then = construct_of(series[-2], construct)
                    before = then["index"] if then is not None else None
                    if before is not None and before - index >= threshold:
                        finding = {
                            "before": before,
                            "index": index,
                            "threshold": threshold,
                            "construct": construct,
                        }
            if finding is not None:
                alerts.append(Alert(key, kind, finding, rule["advice"]))
    return alerts


def _share(figure: UnitFigure, key: str) -> float | None:
    entry = item_of(figure, key)
    return entry.get("unfavourable_share") if entry is not None else None
