"""Disclosure control over the unit tree (ARCHITECTURE.md P6), and an independent audit.

A unit's figure is shown only if at least k people stand behind it (primary suppression). That
is not enough in a tree: if a parent of 9 and its child of 6 are both shown, the 3 others can be
computed by subtraction. So every shown unit is split by its closest shown descendants, and each
block that results (the rest, including people attached directly to the unit) must hold 0 or at
least k people; otherwise more is hidden, the smallest shown child first, then the unit itself
(complementary suppression).

``audit`` checks a publication without using any of the suppression code: it recomputes every
block of what is published and reports each one that holds 1..k-1 people. Every derivable
difference of shown figures is a sum of such blocks, so a clean audit means no group of fewer
than k can be isolated.

Who answered must not be readable from which units are shown (ARCHITECTURE.md P6 a). So the
structure is decided first from the roster locked when the round opened (``structure``: at least
k+1 members per unit and per block, so that "k answered" never means "everyone answered"), and
only then are respondents let through a gate (``gate``), which says exactly one thing about a
hidden unit to whoever knows the rules, and caps published counts so that this one thing can
never complete an "everyone answered".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Tree:
    """Parent links of the units in scope (a forest: several roots are fine)."""

    parent: Mapping[int, int | None]

    def children(self) -> dict[int | None, list[int]]:
        kids: dict[int | None, list[int]] = {}
        for unit, parent in self.parent.items():
            kids.setdefault(parent if parent in self.parent else None, []).append(unit)
        for values in kids.values():
            values.sort()
        return kids

    def ancestors(self, unit: int) -> list[int]:
        found = []
        current = self.parent.get(unit)
        while current is not None and current in self.parent:
            found.append(current)
            current = self.parent.get(current)
        return found


def rolled_up(tree: Tree, own: Mapping[int, int]) -> dict[int, int]:
    """People per unit including everyone below it, from people attached to each unit itself."""
    total = dict.fromkeys(tree.parent, 0)
    for unit, count in own.items():
        if unit not in total:
            continue
        total[unit] += count
        for ancestor in tree.ancestors(unit):
            total[ancestor] += count
    return total


def suppress(
    tree: Tree, totals: Mapping[int, int], k: int, candidates: set[int] | None = None
) -> set[int]:
    """The units whose figure may be shown, for rolled-up ``totals`` and threshold ``k``.

    ``candidates`` limits which units may be shown at all (e.g. for an item: the units shown for
    respondents), and is itself subject to the rules.
    """
    pool = set(tree.parent) if candidates is None else set(candidates) & set(tree.parent)
    shown = {unit for unit in pool if totals.get(unit, 0) >= k}
    kids = tree.children()
    depth = {unit: len(tree.ancestors(unit)) for unit in tree.parent}
    changed = True
    while changed:
        changed = False
        for unit in sorted(shown, key=lambda u: (depth[u], u)):
            if unit not in shown:
                continue
            below = _closest_shown_descendants(kids, unit, shown)
            rest = totals.get(unit, 0) - sum(totals.get(d, 0) for d in below)
            if 0 < rest < k:
                if below:
                    smallest = min(below, key=lambda d: (totals.get(d, 0), d))
                    shown.discard(smallest)
                else:  # cannot happen for a unit shown with >= k, kept for safety
                    shown.discard(unit)
                changed = True
    return shown


def structure(tree: Tree, roster: Mapping[int, int], k: int) -> set[int]:
    """Units that may ever be shown in a round, from the members attached to each unit when it
    opened (``roster``), never from who answered: every shown unit and every block it leaves has
    0 or at least k+1 members.

    Where a block is too small, the shown descendant whose own block is smallest is hidden
    (ties: fewer members, then id): hiding it loses the least, since its own shown sub-units
    stay visible.
    """
    totals = rolled_up(tree, roster)
    shown = {unit for unit in tree.parent if totals.get(unit, 0) >= k + 1}
    kids = tree.children()
    depth = {unit: len(tree.ancestors(unit)) for unit in tree.parent}

    def own_block(unit: int) -> int:
        below = _closest_shown_descendants(kids, unit, shown)
        return totals.get(unit, 0) - sum(totals.get(d, 0) for d in below)

    changed = True
    while changed:
        changed = False
        for unit in sorted(shown, key=lambda u: (depth[u], u)):
            if unit not in shown:
                continue
            below = _closest_shown_descendants(kids, unit, shown)
            rest = own_block(unit)
            if 0 < rest < k + 1 and below:
                shown.discard(min(below, key=lambda d: (own_block(d), totals.get(d, 0), d)))
                changed = True
    return shown


@dataclass(frozen=True)
class Gate:
    """The units shown this round and, per shown unit, the most respondents its block may be
    published with (its cap)."""

    shown: set[int]
    cap: dict[int, int]
    #: Candidates hidden because their cap would fall below k: decided by the roster and what
    #: is hidden below, so nothing about answers is read from them.
    limited: set[int]


def gate(
    tree: Tree,
    members: Mapping[int, int],
    respondents: Mapping[int, int],
    k: int,
    candidates: set[int],
) -> Gate:
    """Which units of the structure (``candidates``) are shown this round, for rolled-up
    ``members`` and ``respondents``, deciding bottom-up.

    A unit's *region* is its sub-tree minus the sub-trees of its shown descendants. A candidate
    is shown when at least k answered in it, its region (if it has members) holds at least k
    respondents, and its cap allows at least k. Whoever knows these rules reads one fact from a
    hidden candidate whose cap allowed k: "fewer than k answered in its region" (a *quiet*
    region). A shown unit's block is its region; its cap is the most respondents it may be
    published with so that, even with every quiet region inside it at k-1, somebody outside
    them may still not have answered: members - 1 - sum(quiet members - (k-1)).

    Nothing else is decided from answers. In particular a shown descendant is never hidden to
    let its parent be shown: that choice, and also declining it, would tell more about who
    answered (the brute-force tests in tests/test_pinning.py found both).
    """
    kids = tree.children()
    depth = {unit: len(tree.ancestors(unit)) for unit in tree.parent}
    shown: set[int] = set()
    cap: dict[int, int] = {}
    limited: set[int] = set()
    quiet: dict[int, int] = {}  # quiet unit -> members of its region

    def limit_of(unit: int) -> tuple[int, int, int]:
        below = _closest_shown_descendants(kids, unit, shown)
        region_members = members.get(unit, 0) - sum(members.get(d, 0) for d in below)
        region = respondents.get(unit, 0) - sum(respondents.get(d, 0) for d in below)
        inner = [quiet[v] for v in _outermost(kids, unit, shown, set(quiet))]
        limit = region_members - 1 - sum(max(q - (k - 1), 0) for q in inner)
        return region_members, region, limit

    for unit in sorted(tree.parent, key=lambda u: (-depth[u], u)):  # children before parents
        if unit not in candidates:
            continue
        region_members, region, limit = limit_of(unit)
        if region_members <= 0:
            if respondents.get(unit, 0) >= k:
                shown.add(unit)
                cap[unit] = 0
            continue
        if limit < k:
            limited.add(unit)  # the roster and what is hidden below decide this
            continue
        if respondents.get(unit, 0) >= k and region >= k:
            shown.add(unit)
            cap[unit] = limit
            continue
        quiet[unit] = region_members
    return Gate(shown, cap, limited)


def _outermost(
    kids: Mapping[int | None, list[int]], unit: int, shown: set[int], marked: set[int]
) -> list[int]:
    """The outermost ``marked`` units in ``unit``'s region (not under a shown unit)."""
    found, frontier = [], list(kids.get(unit, []))
    while frontier:
        child = frontier.pop()
        if child in shown:
            continue
        if child in marked:
            found.append(child)
        else:
            frontier.extend(kids.get(child, []))
    return found


def blocks(tree: Tree, shown: set[int]) -> dict[int, int | None]:
    """For every unit, the shown unit whose block it belongs to (itself if shown, else its
    closest shown ancestor), or None when no shown unit covers it."""
    owner: dict[int, int | None] = {}
    for unit in tree.parent:
        if unit in shown:
            owner[unit] = unit
            continue
        owner[unit] = next((a for a in tree.ancestors(unit) if a in shown), None)
    return owner


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


def _closest_shown_descendants(
    kids: Mapping[int | None, list[int]], unit: int, shown: set[int]
) -> list[int]:
    found, frontier = [], list(kids.get(unit, []))
    while frontier:
        child = frontier.pop()
        if child in shown:
            found.append(child)
        else:
            frontier.extend(kids.get(child, []))
    return found
