"""The pinning audit (docs/privacy.md, P6): does a publication pin anyone?

Written independently of the suppression code (it imports none of it and walks the tree itself),
so that one mistake cannot hide in both. It reads only what a publication shows - the stored
figures of one round - plus the roster locked when the round opened and the tree at close, and
answers two questions, as someone who knows every rule of this code would:

Both questions are asked for an outsider and for every *insider*: a member who knows their own
answer and whether they answered, and the participation of up to J other members (the colleague
who knows who was on leave; J is locked per round like k).

(a) Participation. Every shown unit's respondent count is published; subtracting the counts of
    its closest shown descendants gives the count of its "atom" (the members not under a shown
    descendant). A hidden unit that gives no roster reason tells that fewer than k answered in
    its region; such regions nest. The atom falls into cells: its members outside every such
    region, and each region's own members. For every way of placing the insider and the J
    members they know into cells, each answering or not, the audit asks of every cell which
    numbers of its unknown members can have answered, given the count and the regions' caps: a
    member is pinned when only "all" or only "none" is possible. The count is taken as exact
    even where it is published as "at least" (the stricter reading).

(b) Answers. Per item, each unit with a published mean (0-100 score) or share of unfavourable
    answers is the sum of its atoms, and each atom's range is derivable exactly (published
    ranges are sums of atom ranges). For every atom the audit asks which answers a respondent
    in it can have, over all answer multisets of the atom's size whose score sum and number of
    unfavourable answers fit what is published - the latter combined exactly with the other
    atoms that share one published share. If only one answer is possible, that answer is
    pinned. An insider takes each answer they may have given out of their atom, and the same
    question is asked of everyone left. This is exact for the published ranges, because answers
    on a scale are evenly spaced: every sum between the smallest and largest is reachable.

Rounding of the stored figures is taken into account as the ranges it leaves.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from survey.figures import ItemFigure, UnitFigure


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
    figures: Mapping[int, UnitFigure],
    items: Sequence[ItemScale],
    k: int,
    known: int,
) -> list[Pin]:
    """Every member or answer that one round's publication pins (empty list: nothing), for an
    outsider and for every insider: any member who knows their own answer and participation and
    the participation of ``known`` (J) other members. ``known`` = -1 judges a round published
    before the insider rules as it was published: for an outsider only."""
    tree = _Tree(parent)
    pins = _participation(tree, roster, figures, k, known)
    for item in items:
        pins += _answers(tree, figures, item, insider=known >= 0)
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
    tree: _Tree,
    roster: Mapping[int, int],
    figures: Mapping[int, UnitFigure],
    k: int,
    known: int,
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
        cells = _cells(tree, unit, roster, shown, quiet, k)
        why = _participation_pin(cells, answered, known + 1)
        if why:
            pins.append(Pin(unit, "participation", why))
    return pins


@dataclass
class _Cell:
    """Members of an atom that only a hidden unit's fact constrains together: the atom's own
    members outside every quiet region (``cap`` None), or a quiet unit's own members, whose
    region with the cells below it holds at most ``cap`` (k-1) respondents."""

    size: int
    cap: int | None
    children: list[_Cell]


def _cells(
    tree: _Tree,
    unit: int,
    roster: Mapping[int, int],
    shown: set[int],
    quiet: set[int],
    k: int,
) -> _Cell:
    def region(v: int) -> int:
        return tree.total(v, roster) - sum(
            tree.total(d, roster) for d in tree.closest_below(v, shown)
        )

    def build(v: int, cap: int | None) -> _Cell:
        inner = tree.closest_below(v, quiet, skip=shown)
        children = [build(q, k - 1) for q in sorted(inner)]
        return _Cell(region(v) - sum(region(q) for q in inner), cap, children)

    return build(unit, None)


def _flat(cell: _Cell) -> list[_Cell]:
    found = [cell]
    for child in cell.children:
        found += _flat(child)
    return found


def _participation_pin(root: _Cell, answered: int, known_members: int) -> str:
    """Why the atom's published count pins a member for a reader who knows the participation
    of ``known_members`` of its members (the insider and J others; 0 for an outsider), or ""."""
    counts = _Counts(root)
    people = sum(cell.size for cell in counts.cells)
    known_members = min(known_members, people)
    bounds = counts.bounds({}, {}, -1, 0)
    if bounds is None or not bounds[0] <= answered <= bounds[1]:
        # No world explains the count (more answers than the rules allow): never publish it.
        return "everyone in a group is shown as answering"
    # Identical sibling regions are interchangeable: of each kind, known members need at most
    # ``known_members`` of them, and one more stands for the untouched rest. A city's atom with
    # sixty quiet teams is then judged on a handful of cells instead of every pair of them.
    chosen = [counts.index[id(cell)] for cell in _representatives(root, known_members + 1)]
    for placement in itertools.combinations_with_replacement(chosen, known_members):
        placed = {i: placement.count(i) for i in set(placement)}
        if any(n > counts.cells[i].size for i, n in placed.items()):
            continue
        cells_placed = sorted(placed)
        for bits in itertools.product(*(range(placed[i] + 1) for i in cells_placed)):
            answered_known = dict(zip(cells_placed, bits, strict=True))
            for target in chosen:
                unknown = counts.cells[target].size - placed.get(target, 0)
                if unknown <= 0:
                    continue
                fits = [
                    bounds is not None and bounds[0] <= answered <= bounds[1]
                    for bounds in (
                        counts.bounds(placed, answered_known, target, value)
                        for value in (0, 1, unknown - 1, unknown)
                    )
                ]
                if fits[3] and not fits[2]:
                    return "everyone in a group is shown as answering"
                if fits[0] and not fits[1]:
                    return "nobody in a group is shown as answering"
    return ""


def _representatives(cell: _Cell, per_kind: int) -> list[_Cell]:
    """``cell`` and, below it, the first ``per_kind`` children of each kind (same size, cap and
    shape below), recursively."""
    found = [cell]
    seen: dict[tuple[object, ...], int] = {}
    for child in cell.children:
        kind = _kind(child)
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= per_kind:
            found += _representatives(child, per_kind)
    return found


def _kind(cell: _Cell) -> tuple[object, ...]:
    return (cell.size, cell.cap, tuple(sorted(_kind(child) for child in cell.children)))


class _Counts:
    """Fewest and most respondents of an atom's cells, with a few cells touched by what an
    insider knows. Caps nest (a quiet region lies within the next), so every count between the
    fewest and the most is reachable. Untouched regions keep their bounds from the start, so a
    question costs the depth of the touched cells, not the size of the atom."""

    def __init__(self, root: _Cell) -> None:
        self.cells = _flat(root)
        self.index = {id(cell): i for i, cell in enumerate(self.cells)}
        self.parent: dict[int, int] = {}
        for i, cell in enumerate(self.cells):
            for child in cell.children:
                self.parent[self.index[id(child)]] = i
        self.free: dict[int, tuple[int, int]] = {}
        self.below: dict[int, tuple[int, int]] = {}
        for i in reversed(range(len(self.cells))):  # children come after their parent
            cell = self.cells[i]
            kids = [self.index[id(child)] for child in cell.children]
            low = sum(self.free[k][0] for k in kids)
            high = sum(self.free[k][1] for k in kids)
            self.below[i] = (low, high)
            high += cell.size
            self.free[i] = (low, high if cell.cap is None else min(high, cell.cap))

    def bounds(
        self,
        placed: Mapping[int, int],
        answered_known: Mapping[int, int],
        target: int,
        value: int,
    ) -> tuple[int, int] | None:
        """Bounds of the whole atom with the known members' participation and ``value``
        unknown respondents in cell ``target``; None if impossible."""
        dirty: dict[int, list[int]] = {}
        for start in {*placed, *([target] if target >= 0 else [])}:
            cell = start
            while cell in self.parent:
                siblings = dirty.setdefault(self.parent[cell], [])
                if cell in siblings:
                    break
                siblings.append(cell)
                cell = self.parent[cell]
        return self._bounds(0, dirty, placed, answered_known, target, value)

    def _bounds(
        self,
        i: int,
        dirty: Mapping[int, list[int]],
        placed: Mapping[int, int],
        answered_known: Mapping[int, int],
        target: int,
        value: int,
    ) -> tuple[int, int] | None:
        cell = self.cells[i]
        known = answered_known.get(i, 0)
        low = known + (value if i == target else 0)
        high = known + (value if i == target else cell.size - placed.get(i, 0))
        below_low, below_high = self.below[i]
        for child in dirty.get(i, ()):
            inner = self._bounds(child, dirty, placed, answered_known, target, value)
            if inner is None:
                return None
            below_low += inner[0] - self.free[child][0]
            below_high += inner[1] - self.free[child][1]
        low, high = low + below_low, high + below_high
        if cell.cap is not None:
            if low > cell.cap:
                return None
            high = min(high, cell.cap)
        return low, high


@dataclass
class _Atom:
    unit: int
    n: int
    #: Score sum range (None: no mean published for this atom).
    total: tuple[float, float] | None
    #: Count range of unfavourable answers, from the atom's own share (None: not published).
    share_owner: int | None


def _answers(
    tree: _Tree, figures: Mapping[int, UnitFigure], item: ItemScale, *, insider: bool
) -> list[Pin]:
    entries = {
        u: f.get("items", {})[item.key]
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
        counts = (
            (math.ceil(share[1] * share[0] - 1e-9), math.floor(share[2] * share[0] + 1e-9))
            if share is not None
            else None
        )
        # Atoms that share no published share are judged one by one.
        together = [members] if counts is not None else [[atom] for atom in members]
        for group in together:
            outsider = _group_possible(item, group, counts)
            for atom, possible in zip(group, outsider, strict=True):
                if len(possible) == 1:
                    pins.append(
                        Pin(atom.unit, item.key, "every respondent in a group gave the same answer")
                    )
                elif not possible:
                    pins.append(Pin(atom.unit, item.key, "published figures are inconsistent"))
            if insider and not any(p.measure == item.key for p in pins):
                pins += _insider_pins(item, group, counts, outsider)
    return pins


def _insider_pins(
    item: ItemScale,
    group: Sequence[_Atom],
    counts: tuple[int, int] | None,
    outsider: Sequence[set[int]],
) -> list[Pin]:
    """A respondent who knows their own answer takes it out of their atom: of what is left,
    nobody else's answer may be pinned (nor may anyone's in the atoms sharing a share)."""
    for index, atom in enumerate(group):
        for value in sorted(outsider[index]):
            score = item.scores[value] if item.scores is not None else 0.0
            bad = 1 if item.unfavourable[value] else 0
            rest = _Atom(
                atom.unit,
                atom.n - 1,
                (atom.total[0] - score, atom.total[1] - score) if atom.total is not None else None,
                atom.share_owner,
            )
            others = [rest if j == index else a for j, a in enumerate(group)]
            kept = (counts[0] - bad, counts[1] - bad) if counts is not None else None
            possible = _group_possible(item, others, kept)
            if not all(values for other, values in zip(others, possible, strict=True) if other.n):
                continue  # this answer is not the insider's in any world that fits
            for other, values in zip(others, possible, strict=True):
                if other.n > 0 and len(values) == 1:
                    return [
                        Pin(
                            other.unit,
                            item.key,
                            "a respondent who knows their own answer can tell another's",
                        )
                    ]
    return []


def _group_possible(
    item: ItemScale, group: Sequence[_Atom], counts: tuple[int, int] | None
) -> list[set[int]]:
    """Per atom, the answers one of its respondents may have given, with the atoms' unfavourable
    counts together within ``counts`` (one published share over them all), if any."""
    feasible = [_counts_of(item, atom.n, atom.total) for atom in group]
    all_low, all_high = sum(f[0] for f in feasible), sum(f[1] for f in feasible)
    possible: list[set[int]] = []
    for atom, (low, high) in zip(group, feasible, strict=True):
        allowed: tuple[int, int] | None = None
        if counts is not None:
            allowed = (counts[0] - (all_high - high), counts[1] - (all_low - low))
        possible.append(
            set(_possible_of(item, atom.n, atom.total, allowed)) if atom.n > 0 else set()
        )
    return possible


# The same atom is asked about again and again (once per answer an insider elsewhere may have
# given): the answers depend only on these values, so they are worked out once.
@functools.lru_cache(maxsize=65536)
def _counts_of(item: ItemScale, n: int, total: tuple[float, float] | None) -> tuple[int, int]:
    return _unfavourable_counts(item, _Atom(0, n, total, None))


@functools.lru_cache(maxsize=65536)
def _possible_of(
    item: ItemScale, n: int, total: tuple[float, float] | None, allowed: tuple[int, int] | None
) -> frozenset[int]:
    return frozenset(_possible_answers(item, _Atom(0, n, total, None), allowed))


def _closest_above(tree: _Tree, unit: int, marked: set[int]) -> int | None:
    current = tree.parent.get(unit)
    while current is not None:
        if current in marked:
            return current
        current = tree.parent.get(current)
    return None


def _derive(
    tree: _Tree,
    entries: Mapping[int, ItemFigure],
    marked: set[int],
    kind: Literal["mean", "share"],
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


def _range(entry: ItemFigure, kind: Literal["mean", "share"]) -> tuple[float, float]:
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
    shape = _shape(item)
    if (bad and not shape.bad) or (good and not shape.good):
        return False
    bad_scores = shape.bad or (0.0,)
    good_scores = shape.good or (0.0,)
    low, high = atom.total
    if not shape.even:
        return _sum_fits_slow(bad_scores, good_scores, bad, good, shift, low, high)
    smallest = bad * bad_scores[0] + good * good_scores[0] + shift
    largest = bad * bad_scores[-1] + good * good_scores[-1] + shift
    first = max(low, smallest)
    # The first reachable sum at or above ``first``.
    steps = math.ceil((first - smallest - 1e-9) / shape.step)
    candidate = smallest + steps * shape.step
    return candidate <= min(high, largest) + 1e-9


@dataclass(frozen=True)
class _Shape:
    """An item's scores as the arithmetic needs them, worked out once per item."""

    bad: tuple[float, ...]
    good: tuple[float, ...]
    step: float
    even: bool


@functools.cache
def _shape(item: ItemScale) -> _Shape:
    assert item.scores is not None
    pairs = list(zip(item.scores, item.unfavourable, strict=True))
    bad = tuple(sorted(s for s, u in pairs if u))
    good = tuple(sorted(s for s, u in pairs if not u))
    ordered = sorted(item.scores)
    step = min((b - a for a, b in itertools.pairwise(ordered)), default=1.0) or 1.0
    return _Shape(
        bad,
        good,
        step,
        _evenly_spaced(bad or (0.0,), step) and _evenly_spaced(good or (0.0,), step),
    )


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
