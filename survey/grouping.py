"""Which groups a closed round's answers may be published and stored under (P1, P6).

These are rules about the data, so they live with the data: the release stores every answer
under the group it may be reported under and nothing finer, and statistics publish exactly
those groups. A unit's figure is shown only if enough people stand behind it, and in a tree that
is not enough: a parent of 9 and its child of 6 would give the 3 others by subtraction. So:

* ``structure`` decides from the roster locked when the round opened (never from who answered)
  which units can be shown at all: every one and every block it leaves has 0 or at least
  k+J+2 members (``min_block``), so that "at least k answered" never means "everyone answered",
  not even to a colleague who knows their own participation and that of J others (the insider
  of docs/privacy.md: J = ``known``, locked per round like k);
* ``gate`` lets respondents through, bottom-up, so that a hidden unit tells exactly one thing
  to whoever knows these rules ("fewer than k answered in its region"), and caps each shown
  block's published count so that this one thing, with the insider's J+1 known members, can
  never complete an "everyone answered";
* ``release_plan`` puts it together for one round: shown units, each unit's group, how many
  answers each group leaves out, and the participation figures that may be published.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from survey.figures import RoundFigures, UnitFigure


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
    tree: Tree,
    totals: Mapping[int, int],
    k: int,
    candidates: set[int] | None = None,
    *,
    hide_first: Callable[[int, set[int]], tuple[int, ...]] | None = None,
) -> set[int]:
    """The units whose figure may be shown, for rolled-up ``totals`` and threshold ``k``.

    ``candidates`` limits which units may be shown at all (e.g. for an item: the units shown for
    respondents), and is itself subject to the rules. Where a block is too small, the shown
    descendant that ``hide_first`` ranks lowest is hidden (default: the one with the smallest
    total, then the lowest id).
    """
    pool = set(tree.parent) if candidates is None else set(candidates) & set(tree.parent)
    shown = {unit for unit in pool if totals.get(unit, 0) >= k}
    kids = tree.children()
    depth = {unit: len(tree.ancestors(unit)) for unit in tree.parent}

    def smallest(unit: int, _: set[int]) -> tuple[int, ...]:
        return (totals.get(unit, 0), unit)

    rank = hide_first or smallest
    changed = True
    while changed:
        changed = False
        for unit in sorted(shown, key=lambda u: (depth[u], u)):
            if unit not in shown:
                continue
            below = _closest_shown_descendants(kids, unit, shown)
            rest = totals.get(unit, 0) - sum(totals.get(d, 0) for d in below)
            if 0 < rest < k:
                # A unit shown with >= k always has shown descendants here.
                shown.discard(min(below, key=lambda d: rank(d, shown)) if below else unit)
                changed = True
    return shown


#: ``known`` of rounds published before the insider rules: the reader was assumed to know no
#: member's participation, not even their own (blocks of k+1, caps of members - 1).
OUTSIDER = -1


def min_block(k: int, known: int) -> int:
    """The fewest members a shown block may have: a block published with k respondents needs,
    besides them, room for the insider and the J members whose participation they know, and one
    more whom nobody can rule out as not having answered: k + J + 2."""
    return k + known + 2


def structure(tree: Tree, roster: Mapping[int, int], k: int, known: int) -> set[int]:
    """Units that may ever be shown in a round, from the members attached to each unit when it
    opened (``roster``), never from who answered: every shown unit and every block it leaves has
    0 or at least ``min_block(k, known)`` members.

    Where a block is too small, the shown descendant whose own block is smallest is hidden
    (ties: fewer members, then id): hiding it loses the least, since its own shown sub-units
    stay visible.
    """
    totals = rolled_up(tree, roster)
    kids = tree.children()

    def own_block_first(unit: int, shown: set[int]) -> tuple[int, ...]:
        below = _closest_shown_descendants(kids, unit, shown)
        own = totals.get(unit, 0) - sum(totals.get(d, 0) for d in below)
        return (own, totals.get(unit, 0), unit)

    return suppress(tree, totals, min_block(k, known), hide_first=own_block_first)


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
    known: int,
) -> Gate:
    """Which units of the structure (``candidates``) are shown this round, for rolled-up
    ``members`` and ``respondents``, deciding bottom-up.

    A unit's *region* is its sub-tree minus the sub-trees of its shown descendants. A candidate
    is shown when at least k answered in it, its region (if it has members) holds at least k
    respondents, and its cap allows at least k. Whoever knows these rules reads one fact from a
    hidden candidate whose cap allowed k: "fewer than k answered in its region" (a *quiet*
    region). A shown unit's block is its region; its cap is the most respondents it may be
    published with so that, even with every quiet region inside it at k-1 and the insider and the
    J members they know (``known``) all outside them and not answering, somebody else outside
    them may still not have answered: members - (J+2) - sum(quiet members - (k-1)).

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
        inner = [quiet[v] for v in _outermost(kids, unit, set(quiet), skip=shown)]
        limit = region_members - (known + 2) - sum(max(q - (k - 1), 0) for q in inner)
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
    kids: Mapping[int | None, list[int]],
    unit: int,
    marked: set[int],
    skip: set[int] | frozenset[int] = frozenset(),
) -> list[int]:
    """The outermost ``marked`` units below ``unit``, not looking under ``skip`` units."""
    found, frontier = [], list(kids.get(unit, []))
    while frontier:
        child = frontier.pop()
        if child in skip:
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


def _closest_shown_descendants(
    kids: Mapping[int | None, list[int]], unit: int, shown: set[int]
) -> list[int]:
    return _outermost(kids, unit, shown)


@dataclass(frozen=True)
class ReleasePlan:
    """One round's groups: what the release stores and what statistics publish about who
    answered."""

    #: Per unit of the scope: the participation part of its published figures.
    figures: RoundFigures
    #: Per unit: the shown unit whose group (block) its answers belong to, or None.
    group: dict[int, int | None]
    #: Per shown unit: how many answers of its group are left out (above its cap).
    left_out: dict[int, int]


def release_plan(
    tree: Tree, members: Mapping[int, int], answered: Mapping[int, int], k: int, known: int
) -> ReleasePlan:
    """The groups of one round, from the members attached to each unit when it opened, the
    answers per unit, k and the insider's J (``known``), both locked when the round opened."""
    roster = rolled_up(tree, members)
    respondents = rolled_up(tree, answered)
    candidates = structure(tree, members, k, known)
    decided = gate(tree, roster, respondents, k, candidates, known)
    shown = decided.shown
    kids = tree.children()
    left_out: dict[int, int] = {}
    published_block: dict[int, int] = {}
    at_cap: set[int] = set()
    for unit in shown:
        below = _closest_shown_descendants(kids, unit, shown)
        block_members = roster[unit] - sum(roster[d] for d in below)
        block_answers = respondents[unit] - sum(respondents[d] for d in below)
        room = max(decided.cap[unit], 0)
        left_out[unit] = max(block_answers - room, 0)
        published_block[unit] = block_answers - left_out[unit]
        if block_members > 0 and published_block[unit] == room:
            at_cap.add(unit)
    figures: RoundFigures = {}
    for unit in tree.parent:  # the tree as it was at close, so later audits judge the same tree
        figure: UnitFigure = {"shown": unit in shown, "parent": tree.parent[unit]}
        if unit not in candidates:
            # Decided from the roster alone: safe to say, with the size it falls short of.
            figure["reason"] = "members"
            figure["min_members"] = min_block(k, known)
        elif unit in decided.limited:
            figure["reason"] = "neighbours"  # decided from the roster and the hidden units
        if unit in shown:
            within = [b for b in shown if b == unit or unit in tree.ancestors(b)]
            figure["respondents"] = sum(published_block[b] for b in within)
            figure["members"] = roster[unit]
            if any(b in at_cap for b in within):
                # A block published at its limit may hide more answers: "at least n answered".
                figure["respondents_at_least"] = True
        figures[unit] = figure
    return ReleasePlan(figures, blocks(tree, shown), left_out)


def kept_answers(
    plan: ReleasePlan,
    answers: Sequence[tuple[int, str]],
    *,
    chance: random.Random | None = None,
    content: Mapping[str, bytes] | None = None,
) -> dict[str, int]:
    """Of (unit, id) answers, those the release keeps, each with its group: answers in no group
    and, per group, as many as its cap leaves out go.

    Which ones go: with ``chance``, a random choice among the group's answers put in the order
    of their ``content`` (so that the same answers give the same choice for a seeded generator,
    whatever order they arrived in); without it, the lowest ids (random UUIDs), which is how
    rounds closed before groups were stored are regrouped."""
    by_group: dict[int, list[str]] = {}
    for unit, answer_id in answers:
        group = plan.group.get(unit)
        if group is not None:
            by_group.setdefault(group, []).append(answer_id)
    kept: dict[str, int] = {}
    for group, ids in sorted(by_group.items()):  # a fixed order, whatever order rows came in
        leave = plan.left_out.get(group, 0)
        if chance is None or not leave:
            ordered = sorted(ids)
            chosen = ordered[leave:]
        else:
            ordered = sorted(ids, key=lambda i: ((content or {}).get(i, b""), i))
            gone = set(chance.sample(range(len(ordered)), min(leave, len(ordered))))
            chosen = [i for n, i in enumerate(ordered) if n not in gone]
        for answer_id in chosen:
            kept[answer_id] = group
    return kept
