"""Disclosure control: the known cases, and hypothesis trees that the independent audit passes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregation.disclosure import Tree, audit, rolled_up, suppress

K = 5


def _shown(parent: dict[int, int | None], own: dict[int, int], k: int = K) -> dict[int, int]:
    tree = Tree(parent)
    totals = rolled_up(tree, own)
    return {u: totals[u] for u in suppress(tree, totals, k)}


def test_team_of_six_with_sub_units_of_five_and_one() -> None:
    shown = _shown({1: None, 2: 1, 3: 1}, {2: 5, 3: 1})
    assert shown == {1: 6}  # the 5 is hidden too; the team of 6 stays


def test_parent_of_nine_is_three_plus_six() -> None:
    assert _shown({1: None, 2: 1, 3: 1}, {2: 3, 3: 6}) == {1: 9}


def test_parent_of_thirteen_with_four_attached_directly() -> None:
    assert _shown({1: None, 2: 1, 3: 1}, {1: 4, 2: 3, 3: 6}) == {1: 13, 3: 6}


def test_everything_small_shows_nothing_and_zero_blocks_are_fine() -> None:
    assert _shown({1: None, 2: 1}, {2: 4}) == {}
    assert _shown({1: None, 2: 1, 3: 1}, {2: 5, 3: 7}) == {1: 12, 2: 5, 3: 7}


def test_audit_finds_subtraction_attacks() -> None:
    tree = Tree({1: None, 2: 1, 3: 1})
    assert audit(tree, {1: 9, 3: 6}, K)[0].people == 3
    assert audit(tree, {2: 3}, K)[0].why == "unit 2 is shown for 3 people"
    assert audit(tree, {1: 9}, K) == []


@st.composite
def trees(draw):
    size = draw(st.integers(1, 12))
    parent: dict[int, int | None] = {0: None}
    for unit in range(1, size):
        parent[unit] = draw(st.one_of(st.none(), st.integers(0, unit - 1)))
    own = {unit: draw(st.integers(0, 14)) for unit in parent}
    return parent, own, draw(st.integers(3, 6))


@settings(max_examples=300)
@given(trees())
def test_suppressed_publications_always_pass_the_audit(case) -> None:
    parent, own, k = case
    shown = _shown(parent, own, k)
    assert audit(Tree(parent), shown, k) == []


@settings(max_examples=150)
@given(trees())
def test_no_subtraction_of_shown_figures_isolates_a_small_group(case) -> None:
    """Brute force, independent of both: every shown unit minus any set of its shown,
    non-overlapping descendants is 0 or at least k."""
    parent, own, k = case
    tree = Tree(parent)
    shown = _shown(parent, own, k)
    for unit, people in shown.items():
        below = [d for d in shown if unit in tree.ancestors(d)]
        for size in range(1, min(len(below), 5) + 1):
            for subset in itertools.combinations(below, size):
                if any(a in tree.ancestors(b) for a in subset for b in subset if a != b):
                    continue  # overlapping: not a subtraction of disjoint groups
                rest = people - sum(shown[d] for d in subset)
                assert rest == 0 or rest >= k, (unit, subset, rest)


@settings(max_examples=200)
@given(trees())
def test_suppression_keeps_as_much_as_primary_allows_at_the_top(case) -> None:
    """Roots with at least k people are never hidden: hiding goes to children first."""
    parent, own, k = case
    tree = Tree(parent)
    totals = rolled_up(tree, own)
    shown = suppress(tree, totals, k)
    for unit, up in parent.items():
        if up is None and totals[unit] >= k:
            assert unit in shown
