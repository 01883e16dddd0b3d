"""The pinning audit (ARCHITECTURE.md P6): does a publication pin anyone?

Written independently of the suppression code (it imports none of it and walks the tree itself),
so that one mistake cannot hide in both. It reads only what a publication shows - the stored
figures of one round - plus the roster locked when the round opened and the tree at close, and
answers two questions, as someone who knows every rule of this code would:

(a) Participation. Every shown unit's respondent count is published; subtracting the counts of
    its closest shown descendants gives the count of its "atom" (the members not under a shown
    descendant). A hidden unit that gives no roster reason tells that fewer than k answered in
    its region. A member is pinned as having answered when the atom's count, less at most k-1
    for each such region, still covers everyone outside them, and as not having answered when
    the count is zero. Counts are published at most up to a cap (public rules), so a count at
    the cap pins nobody: the true count may be higher, but so may it be that count.

(b) Answers. Per item, each unit with a published mean (0-100 score) or share of unfavourable
    answers is the sum of its atoms, and each atom's range is derivable exactly (published
    ranges are sums of atom ranges). For every atom the audit asks which answers a respondent
    in it can have, over all answer multisets of the atom's size whose score sum and number of
    unfavourable answers fit what is published - the latter combined exactly with the other
    atoms that share one published share. If only one answer is possible, that answer is
    pinned. This is exact for the published ranges, because answers on a scale are evenly
    spaced: every sum between the smallest and largest is reachable.

Rounding of the stored figures is taken into account as the ranges it leaves.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ItemScale:
    """What the audit needs to know of one item: its answers' 0-100 scores (None where the item
    has no score) and which answers count as unfavourable, in the item's answer order."""

    key: str
    scores: tuple[float, ...] | None
    unfavourable: tuple[bool, ...]


@dataclass(frozen=True)
class Pin:
    unit: int
    measure: str
    why: str


#: Rounding of stored figures: means to 2 decimals, shares to 4, as ``aggregation.statistics``.
MEAN_ROUNDING = 0.01
SHARE_ROUNDING = 0.0001


def pinning_audit(
    parent: Mapping[int, int | None],
    roster: Mapping[int, int],
    figures: Mapping[int, Mapping[str, Any]],
    items: Sequence[ItemScale],
    k: int,
) -> list[Pin]:
    """Every member or answer that one round's publication pins (empty list: nothing)."""
    tree = _Tree(parent)
    pins = _participation(tree, roster, figures, k)
    for item in items:
        pins += _answers(tree, figures, item)
    return pins


class _Tree:
    def __init__(self, parent: Mapping[int, int | None]) -> None:
        self.parent = {u: (p if p in parent else None) for u, p in parent.items()}
        self.kids: dict[int | None, list[int]] = {}
        for unit, up in self.parent.items():
            self.kids.setdefault(up, []).append(unit)

    def closest_below(self, unit: int, marked: set[int], skip: set[int] | None = None) -> list[int]:
        """The outermost ``marked`` units below ``unit``, not looking under ``skip`` units."""
        found, todo = [], list(self.kids.get(unit, []))
        while todo:
            child = todo.pop()
            if skip is not None and child in skip:
                continue
            if child in marked:
                found.append(child)
            else:
                todo.extend(self.kids.get(child, []))
        return found

    def total(self, unit: int, own: Mapping[int, int]) -> int:
        count, todo = 0, [unit]
        while todo:
            current = todo.pop()
            count += own.get(current, 0)
            todo.extend(self.kids.get(current, []))
        return count


def _participation(
    tree: _Tree, roster: Mapping[int, int], figures: Mapping[int, Mapping[str, Any]], k: int
) -> list[Pin]:
    shown = {u for u, f in figures.items() if f.get("shown") and u in tree.parent}
    # A hidden unit without a roster-decided reason says "fewer than k answered in its region"
    # (its sub-tree minus what is shown below it): the rules are public, so the audit reads it.
    quiet = {
        u
        for u, f in figures.items()
        if u in tree.parent and not f.get("shown") and not f.get("reason")
    }
    pins = []
    for unit in sorted(shown):
        members = tree.total(unit, roster)
        published = figures[unit].get("members")
        if published is not None and published != members:
            pins.append(Pin(unit, "members", "published members differ from the locked roster"))
        below = tree.closest_below(unit, shown)
        atom_members = members - sum(tree.total(d, roster) for d in below)
        answered = figures[unit]["respondents"] - sum(figures[d]["respondents"] for d in below)
        if atom_members <= 0:
            if answered != 0:
                pins.append(Pin(unit, "participation", "answers where nobody is a member"))
            continue

        def region(v: int) -> int:
            below_v = tree.closest_below(v, shown)
            return tree.total(v, roster) - sum(tree.total(d, roster) for d in below_v)

        regions = [region(v) for v in tree.closest_below(unit, quiet, skip=shown)]
        outside = atom_members - sum(regions)
        # The fewest who can have answered outside the quiet regions, each at most k-1.
        fewest_outside = answered - sum(min(k - 1, r) for r in regions)
        if answered >= atom_members or (outside > 0 and fewest_outside >= outside):
            pins.append(Pin(unit, "participation", "everyone in a group is shown as answering"))
        elif answered <= 0:
            pins.append(Pin(unit, "participation", "nobody in a group is shown as answering"))
    return pins


@dataclass
class _Atom:
    unit: int
    n: int
    #: Score sum range (None: no mean published for this atom).
    total: tuple[float, float] | None
    #: Count range of unfavourable answers, from the atom's own share (None: not published).
    share_owner: int | None


def _answers(tree: _Tree, figures: Mapping[int, Mapping[str, Any]], item: ItemScale) -> list[Pin]:
    entries = {
        u: f["items"][item.key]
        for u, f in figures.items()
        if f.get("shown") and u in tree.parent and item.key in f.get("items", {})
    }
    with_mean = {u for u, e in entries.items() if "mean" in e}
    with_share = {u for u, e in entries.items() if "unfavourable_share" in e}
    pins: list[Pin] = []
    if item.scores is not None and with_mean:
        atoms = _derive(tree, entries, with_mean, "mean", MEAN_ROUNDING)
    else:
        atoms = {}
    share_atoms = _derive(tree, entries, with_share, "share", SHARE_ROUNDING) if with_share else {}
    # Which share atom each mean atom lies in (the closest unit with a share at or above it).
    mean_atoms: dict[int, _Atom] = {}
    for unit, (n, low, high) in atoms.items():
        owner = unit if unit in with_share else _closest_above(tree, unit, with_share)
        mean_atoms[unit] = _Atom(unit, n, (low * n, high * n), owner)
    for unit, (n, _, _) in share_atoms.items():
        if item.scores is None or not with_mean:
            mean_atoms.setdefault(unit, _Atom(unit, n, None, unit))
    groups: dict[int | None, list[_Atom]] = {}
    for atom in mean_atoms.values():
        groups.setdefault(atom.share_owner if atom.share_owner in share_atoms else None, []).append(
            atom
        )
    for owner, members in groups.items():
        share = share_atoms.get(owner) if owner is not None else None
        feasible = [_unfavourable_counts(item, atom) for atom in members]
        for index, atom in enumerate(members):
            allowed: tuple[int, int] | None = None
            if share is not None:
                n_share, low, high = share
                others_low = sum(f[0] for j, f in enumerate(feasible) if j != index)
                others_high = sum(f[1] for j, f in enumerate(feasible) if j != index)
                allowed = (
                    math.ceil(low * n_share - 1e-9) - others_high,
                    math.floor(high * n_share + 1e-9) - others_low,
                )
            possible = _possible_answers(item, atom, allowed)
            if len(possible) == 1:
                pins.append(
                    Pin(atom.unit, item.key, "every respondent in a group gave the same answer")
                )
            elif not possible:
                pins.append(Pin(atom.unit, item.key, "published figures are inconsistent"))
    return pins


def _closest_above(tree: _Tree, unit: int, marked: set[int]) -> int | None:
    current = tree.parent.get(unit)
    while current is not None:
        if current in marked:
            return current
        current = tree.parent.get(current)
    return None


def _derive(
    tree: _Tree,
    entries: Mapping[int, Mapping[str, Any]],
    marked: set[int],
    kind: str,
    rounding: float,
) -> dict[int, tuple[int, float, float]]:
    """(n, low, high) of every atom: a marked unit's range minus its closest marked
    descendants', widened by what rounding can hide."""
    atoms = {}
    for unit in marked:
        below = tree.closest_below(unit, marked)
        terms = [(unit, 1), *((d, -1) for d in below)]
        n = sum(sign * entries[u]["n"] for u, sign in terms)
        if n <= 0:
            continue
        low = high = slack = 0.0
        for u, sign in terms:
            lo, hi = _range(entries[u], kind)
            weight = entries[u]["n"]
            low += sign * lo * weight
            high += sign * hi * weight
            slack += rounding * weight
        atoms[unit] = (n, (low - slack) / n, (high + slack) / n)
    return atoms


def _range(entry: Mapping[str, Any], kind: str) -> tuple[float, float]:
    if kind == "mean":
        low, high = entry["mean"]
        return float(low), float(high)
    if "unfavourable_range" in entry:
        low, high = entry["unfavourable_range"]
        return float(low), float(high)
    share = float(entry["unfavourable_share"])
    return share, share


def _unfavourable_counts(item: ItemScale, atom: _Atom) -> tuple[int, int]:
    """Smallest and largest number of unfavourable answers the atom's own mean allows."""
    counts = [u for u in range(atom.n + 1) if _sum_fits(item, atom, u, atom.n)]
    return (min(counts), max(counts)) if counts else (0, atom.n)


def _possible_answers(item: ItemScale, atom: _Atom, allowed: tuple[int, int] | None) -> set[int]:
    """Indices of the answers a respondent of ``atom`` may have given."""
    possible = set()
    values = range(len(item.unfavourable))
    for value in values:
        bad = 1 if item.unfavourable[value] else 0
        for others_bad in range(atom.n):  # the other n-1 respondents
            count = bad + others_bad
            if allowed is not None and not allowed[0] <= count <= allowed[1]:
                continue
            if atom.total is None or item.scores is None:
                possible.add(value)
                break
            score = item.scores[value]
            if _sum_fits(item, atom, others_bad, atom.n - 1, shift=score):
                possible.add(value)
                break
    return possible


def _sum_fits(item: ItemScale, atom: _Atom, bad: int, size: int, shift: float = 0.0) -> bool:
    """Whether ``size`` answers with ``bad`` unfavourable ones can sum (plus ``shift``) into the
    atom's published score range. Within the unfavourable answers, and within the others, the
    scores are evenly spaced, so every sum between the extremes in steps of one score step is
    reachable."""
    if atom.total is None or item.scores is None:
        return True
    good = size - bad
    bad_scores = [s for s, u in zip(item.scores, item.unfavourable, strict=True) if u]
    good_scores = [s for s, u in zip(item.scores, item.unfavourable, strict=True) if not u]
    if (bad and not bad_scores) or (good and not good_scores):
        return False
    if not bad_scores:
        bad_scores = [0.0]
    if not good_scores:
        good_scores = [0.0]
    step = min(
        abs(a - b) for a, b in zip(sorted(item.scores), sorted(item.scores)[1:], strict=False)
    )
    smallest = bad * min(bad_scores) + good * min(good_scores) + shift
    largest = bad * max(bad_scores) + good * max(good_scores) + shift
    low, high = atom.total
    if not _evenly_spaced(bad_scores, step) or not _evenly_spaced(good_scores, step):
        return _sum_fits_slow(bad_scores, good_scores, bad, good, shift, low, high)
    first = max(low, smallest)
    # The first reachable sum at or above ``first``.
    steps = math.ceil((first - smallest - 1e-9) / step)
    candidate = smallest + steps * step
    return candidate <= min(high, largest) + 1e-9


def _evenly_spaced(scores: Sequence[float], step: float) -> bool:
    ordered = sorted(scores)
    return all(abs((b - a) - step) < 1e-9 for a, b in itertools.pairwise(ordered))


def _sum_fits_slow(
    bad_scores: Sequence[float],
    good_scores: Sequence[float],
    bad: int,
    good: int,
    shift: float,
    low: float,
    high: float,
) -> bool:
    """Exact reachable sums by enumeration, for answer scores that are not evenly spaced."""
    sums = {shift}
    for scores, count in ((bad_scores, bad), (good_scores, good)):
        for _ in range(count):
            sums = {round(s + v, 6) for s in sums for v in scores}
    return any(low - 1e-9 <= s <= high + 1e-9 for s in sums)
