"""When the pinning audit refuses a round: hold back only what it refuses (P6).

The mechanisms in ``aggregation.statistics`` are built to pass the pinning audit, but the audit
is independent of them and exact, so it can find what they miss (a share spanning two atoms
whose means are published exactly, for example). A refused round must not lose everything: the
other units and measures of that round are as safe as before. So the refused measure is held
back where it is published, step by step and always in the same order, and the whole
publication is audited again, until the audit passes:

- a refused item's *share* of unfavourable answers, at the closest unit at or above the pinned
  atom that publishes one (a share is what ties atoms together), or
- the item's *mean* at the pinned unit or at another unit under that share, and the area index
  built on it there,

whichever leaves the audit refusing least (a mean on a tie: the alerts read shares).

Each held-back figure is marked (``held_back``) so that outputs can say why it is missing. A
pinned *participation* count cannot be held back without changing the groups the answers are
stored under (P1); the participation rules are proven against brute force, so this is raised as
an error instead. The log says which round and how many figures, never why in terms of answers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aggregation.pinning import ItemScale, Pin, pinning_audit
from survey.figures import HeldBack as HeldBackKind
from survey.figures import ItemFigure, RoundFigures, UnitFigure


class HoldBackError(RuntimeError):
    """The audit refused something that holding back measures cannot mend (a participation
    count). Never expected; nothing of the round is published."""


@dataclass(frozen=True)
class HeldBack:
    figures: RoundFigures
    #: How many figures (an item's share or mean at one unit) were held back.
    count: int


def hold_back(
    parent: Mapping[int, int | None],
    members: Mapping[int, int],
    figures: Mapping[int, UnitFigure],
    scales: Sequence[ItemScale],
    k: int,
    known: int,
    constructs: Mapping[str, str],
) -> HeldBack:
    """``figures`` with what the pinning audit refuses held back, audited clean.

    ``constructs`` maps each item to the area whose index is built from its mean. One figure
    goes at a time: of those that could go for the first refusal (the share that ties the
    pinned atom to others, its own mean, or the mean of another atom under that share), the one
    after which the audit refuses least; ties go to a mean. Deterministic: the same publication
    is always held back the same way, so a recomputation publishes the same."""

    def audit(current: Mapping[int, UnitFigure]) -> list[Pin]:
        return pinning_audit(parent, members, current, scales, k, known)

    current: RoundFigures = copy.deepcopy(dict(figures))
    count = 0
    pins = audit(current)
    while pins:
        pin = min(pins, key=lambda p: (p.measure, p.unit))
        if pin.measure in ("participation", "members"):
            raise HoldBackError(
                "the pinning audit refused a participation count, which cannot be held back"
            )
        options = []
        for what, unit in _candidates(current, parent, pin):
            trial = copy.deepcopy(current)
            if _hold_one(trial, parent, pin.measure, unit, constructs, what):
                left = audit(trial)
                options.append((len(left), what != "mean", unit, trial, left))
        if not options:
            raise HoldBackError("the pinning audit refused a figure that is not published")
        # The fewest refusals left wins; on a tie a mean goes rather than a share (a share is
        # what the alerts read: "at least 30 % answered negatively two rounds running"), the
        # unit with the lowest id first.
        _, _, _, current, pins = min(options, key=lambda option: option[:3])
        count += 1
    return HeldBack(current, count)


def _candidates(
    figures: Mapping[int, UnitFigure], parent: Mapping[int, int | None], pin: Pin
) -> list[tuple[HeldBackKind, int]]:
    """What could go for a refusal of ``pin``: the share tying the pinned atom to others (at the
    closest unit at or above it that publishes one), and the mean of the pinned unit and of every
    unit under that share, each a different atom the share spans."""
    owner: int | None = pin.unit
    while owner is not None:
        entry = figures[owner].get("items", {}).get(pin.measure) if owner in figures else None
        if entry is not None and "unfavourable_share" in entry:
            break
        owner = parent.get(owner)
    found: list[tuple[HeldBackKind, int]] = [("share", pin.unit), ("mean", pin.unit)]
    if owner is not None:
        for unit in sorted(figures):
            above: int | None = unit
            chain: set[int] = set()
            while above is not None and above not in chain:
                chain.add(above)
                above = parent.get(above)
            if owner in chain and unit != pin.unit:
                found.append(("mean", unit))
    return found


def _hold_one(
    figures: RoundFigures,
    parent: Mapping[int, int | None],
    key: str,
    unit: int,
    constructs: Mapping[str, str],
    what: HeldBackKind,
) -> bool:
    """Hold back item ``key``'s share at the closest unit at or above ``unit`` that publishes
    one (``what`` = "share"), or its mean at ``unit`` ("mean") with the area index built on it
    there; False where there is no such figure."""

    def entry(at: int | None) -> ItemFigure | None:
        if at is None or at not in figures or not figures[at].get("shown"):
            return None
        return figures[at].get("items", {}).get(key)

    if what == "share":
        at: int | None = unit
        while at is not None:
            found = entry(at)
            if found is not None and "unfavourable_share" in found:
                found.pop("unfavourable_share")
                found.pop("unfavourable_range", None)
                found["held_back"] = sorted({*found.get("held_back", []), "share"})
                return True
            at = parent.get(at)
        return False
    found = entry(unit)
    if found is None or "mean" not in found:
        return False
    found.pop("mean")
    found["held_back"] = sorted({*found.get("held_back", []), "mean"})
    construct = constructs.get(key)
    figure = figures[unit]
    held = figure.get("constructs", {})
    if construct and construct in held:
        held.pop(construct)
        figure["constructs_held_back"] = sorted(
            {*figure.get("constructs_held_back", []), construct}
        )
    return True
