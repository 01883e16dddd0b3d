"""Disclosure control over the unit tree (docs/privacy.md, P6), and an independent audit.

A unit's figure is shown only if at least k people stand behind it (primary suppression). That
is not enough in a tree: if a parent of 9 and its child of 6 are both shown, the 3 others can be
computed by subtraction. So every shown unit is split by its closest shown descendants, and each
block that results (the rest, including people attached directly to the unit) must hold 0 or at
least k people; otherwise more is hidden, the smallest shown child first, then the unit itself
(complementary suppression).

The rules themselves (``Tree``, ``structure``, ``gate``...) live in ``survey.grouping``, because
the release stores answers by the same groups; they are re-exported here.

``audit`` checks a publication without using any of the suppression code: it recomputes every
block of what is published and reports each one that holds 1..k-1 people. Every derivable
difference of shown figures is a sum of such blocks, so a clean audit means no group of fewer
than k can be isolated.

Who answered must not be readable from which units are shown (docs/privacy.md, P6). So the
structure is decided first from the roster locked when the round opened (``structure``: at least
k+J+2 members per unit and per block, so that "k answered" never means "everyone answered", not
even to a colleague who knows their own participation and J others'), and
only then are respondents let through a gate (``gate``), which says exactly one thing about a
hidden unit to whoever knows the rules, and caps published counts so that this one thing can
never complete an "everyone answered".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from survey.grouping import (
    Gate,
    ReleasePlan,
    Tree,
    blocks,
    gate,
    release_plan,
    rolled_up,
    structure,
    suppress,
)

__all__ = [
    "Gate",
    "ReleasePlan",
    "Tree",
    "Violation",
    "audit",
    "blocks",
    "gate",
    "release_plan",
    "rolled_up",
    "structure",
    "suppress",
]


@dataclass(frozen=True)
class Violation:
    unit: int
    people: int
    why: str


def audit(tree: Tree, published: Mapping[int, int], k: int) -> list[Violation]:
    """Every way the published counts reveal a group of 1..k-1 people (empty list: safe).

    ``published`` maps each shown unit to the number of people its figure stands for.
    Independent of ``suppress`` by design: it only looks at what leaves the system.
    """
    violations = []
    shown = set(published)
    for unit, people in sorted(published.items()):
        if 0 < people < k:
            violations.append(Violation(unit, people, f"unit {unit} is shown for {people} people"))
    kids = tree.children()
    for unit in sorted(shown):
        below = []
        frontier = list(kids.get(unit, []))
        while frontier:
            child = frontier.pop()
            if child in shown:
                below.append(child)
            else:
                frontier.extend(kids.get(child, []))
        rest = published[unit] - sum(published[d] for d in below)
        if 0 < rest < k:
            names = ", ".join(str(d) for d in sorted(below))
            violations.append(
                Violation(unit, rest, f"unit {unit} minus its shown units {names} leaves {rest}")
            )
        if rest < 0:
            violations.append(Violation(unit, rest, f"unit {unit} is smaller than its parts"))
    return violations
