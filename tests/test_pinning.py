"""P6 under attack: nothing a manager sees tells who answered or what (docs/privacy.md).

Each attack of the anonymity issue is a test here, written as the hostile manager would run it:
compute what the publication shows, then look for a second world - another set of people who
answered, other answers - that shows exactly the same. Where one exists for every person, the
publication pins nobody. Hypothesis then tries random trees, rosters and answers against brute
force, and checks the pinning audit's arithmetic against enumeration.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregation.close import StatisticsError
from aggregation.disclosure import Tree
from aggregation.pinning import ItemScale, _Atom, _possible_answers, pinning_audit
from aggregation.statistics import ItemInfo, participation_figures, round_figures
from survey.figures import RoundFigures
from survey.grouping import OUTSIDER
from survey.submissions import submit

K, SPREAD, J = 5, 10, 1
#: Brute-force examples per property; raise it for a longer run before changing the rules.
EXAMPLES = int(os.environ.get("PULSE_PINNING_EXAMPLES", "300"))
FIVE = (1, 2, 3, 4, 5)


def scale_item(key: str, construct: str, unfavourable: tuple[int, ...] = (4, 5)) -> ItemInfo:
    scores = {v: (v - 1) * 25.0 for v in FIVE}
    return ItemInfo(key, key, construct, "scale", FIVE, scores, scores, frozenset(unfavourable))


def scales(items: Sequence[ItemInfo]) -> list[ItemScale]:
    return [
        ItemScale(
            i.key,
            tuple(float(i.index_scores[v]) for v in i.values) if i.index_scores else None,
            tuple(v in i.unfavourable for v in i.values),
        )
        for i in items
    ]


def publish(
    parent: Mapping[int, int | None],
    roster: Mapping[int, int],
    answers: Sequence[tuple[int, Mapping[str, Any]]],
    items: Sequence[ItemInfo] = (),
    k: int = K,
    known: int = J,
) -> RoundFigures:
    tagged = [(unit, f"{n:08d}", a) for n, (unit, a) in enumerate(answers)]
    return round_figures(
        tree=Tree(dict(parent)),
        answers=tagged,
        items=list(items),
        members=dict(roster),
        k=k,
        spread_k=SPREAD,
        known=known,
    )


def participation_view(figures: Mapping[int, Mapping[str, Any]]) -> dict[int, tuple[Any, ...]]:
    """All that a publication says about who answered."""
    return {
        u: (f["shown"], f.get("respondents"), f.get("respondents_at_least"), f.get("reason"))
        for u, f in figures.items()
    }


# --- Attack 1: who answered ------------------------------------------------------------------

ENHET, TEAM = 1, 2
ANN_TREE = {ENHET: None, TEAM: ENHET}
ANN_ROSTER = {ENHET: 1, TEAM: 5}  # Ann is the only worker attached to the enhet itself


def _ann_week(ann: bool, team: int) -> dict[int, tuple[Any, ...]]:
    answers: list[tuple[int, dict[str, Any]]] = [(ENHET, {})] if ann else []
    answers += [(TEAM, {})] * team
    return participation_view(publish(ANN_TREE, ANN_ROSTER, answers))


def test_attack_1_the_manager_cannot_tell_whether_ann_answered() -> None:
    weeks = [(True, 5), (False, 5), (True, 4)]  # the three weeks of the issue
    for ann, team in weeks:
        seen = _ann_week(ann, team)
        worlds = [(a, t) for a in (True, False) for t in range(6) if _ann_week(a, t) == seen]
        assert {a for a, _ in worlds} == {True, False}, (ann, team, worlds)
        # and no team member is pinned either: some world has the team short of full
        assert any(t < 5 for _, t in worlds)
        assert any(t > 0 for _, t in worlds)
        shown = [f for f in seen.values() if f[0]]
        assert all(f[1] < 6 for f in shown)  # "6 answered (100%)" is never published


def test_attack_1_everyone_answered_is_never_published() -> None:
    figures = publish({1: None}, {1: 8}, [(1, {})] * 8)
    assert figures[1]["respondents"] == 5
    assert figures[1]["respondents_at_least"] is True
    # ...and 6 of 8 looks the same, so even a colleague who did not answer and knows one other
    # was on leave cannot tell that the six others all answered.
    assert participation_view(publish({1: None}, {1: 8}, [(1, {})] * 6)) == participation_view(
        figures
    )


# --- Attack 2: unanimous groups --------------------------------------------------------------


def test_attack_2_a_unanimous_team_is_not_shown_as_unanimous() -> None:
    items = [scale_item("stress", "stress"), scale_item("meaning", "meaning", (1, 2))]
    roster = {1: 8}
    unanimous = [(1, {"stress": 5, "meaning": 1})] * 5
    one_differs = [(1, {"stress": 4, "meaning": 2}), *unanimous[1:]]
    first = publish({1: None}, roster, unanimous, items)
    second = publish({1: None}, roster, one_differs, items)
    assert first[1]["constructs"]["stress"]["range"] == [75.0, 100.0]
    assert first[1]["constructs"]["meaning"]["range"] == [0.0, 25.0]
    # The manager sees the same whether all five said "very much" or one said "quite a lot".
    assert first[1]["constructs"] == second[1]["constructs"]
    assert pinning_audit({1: None}, roster, first, scales(items), K, J) == []


def test_attack_2_subtraction_cannot_isolate_a_unanimous_group() -> None:
    """Parent minus child leaves a block whose answers were all "very much"."""
    parent, roster = {1: None, 2: 1}, {1: 8, 2: 8}
    items = [scale_item("stress", "stress")]
    child = [(2, {"stress": v}) for v in (2, 3, 3, 4, 2)]
    block = [(1, {"stress": 5})] * 5
    figures = publish(parent, roster, child + block, items)
    assert figures[1]["shown"]
    assert figures[2]["shown"]
    assert pinning_audit(parent, roster, figures, scales(items), K, J) == []
    softer = publish(parent, roster, [*child, (1, {"stress": 4}), *block[1:]], items)
    assert softer[1]["constructs"] == figures[1]["constructs"]  # the block's range hides it


# --- Attack 4: measures against each other ---------------------------------------------------


def test_attack_4_construct_and_item_indices_do_not_give_away_a_skipped_item() -> None:
    items = [scale_item("a", "pair"), scale_item("b", "pair")]
    roster = {1: 9}
    answers = [(1, {"a": a, "b": b}) for a, b in ((2, 3), (3, 3), (4, 2), (3, 4), (2, 2))]
    skipper = (1, {"a": 5})  # skipped the optional b
    figures = publish({1: None}, roster, [*answers, skipper], items)
    # Swap the skipper's answer to a with someone else's: a different skipper's answer, the
    # same item means, so the same publication - the skipper's answer is not pinned.
    swapped = [(1, {"a": 5, "b": 3}), *answers[1:], (1, {"a": 2})]
    assert publish({1: None}, roster, swapped, items)[1] == figures[1]
    assert pinning_audit({1: None}, roster, figures, scales(items), K, J) == []


# --- Hypothesis: random trees, rosters and answers against brute force ----------------------


@st.composite
def small_trees(draw):
    size = draw(st.integers(1, 4))
    parent: dict[int, int | None] = {0: None}
    for unit in range(1, size):
        parent[unit] = draw(st.integers(0, unit - 1))
    roster = {unit: draw(st.integers(0, 10 if size < 4 else 8)) for unit in parent}
    answered = {unit: draw(st.integers(0, roster[unit])) for unit in parent}
    return parent, roster, answered, draw(st.integers(4, 5))


def insider_views(
    roster: Mapping[int, int], truth: Mapping[int, int], known: int
) -> list[tuple[dict[int, int], dict[int, int]]]:
    """Every way an insider can know the participation of ``known`` + 1 members (themself and
    J others), placed in units, as (known per unit, of them answered per unit), true to
    ``truth``."""
    units = [u for u in sorted(roster) if roster[u]]
    views = []
    for placement in itertools.combinations_with_replacement(
        units, min(known + 1, sum(roster.values()))
    ):
        placed = {u: placement.count(u) for u in units}
        if any(placed[u] > roster[u] for u in units):
            continue
        for bits in itertools.product(*(range(placed[u] + 1) for u in units)):
            answered = dict(zip(units, bits, strict=True))
            if all(
                answered[u] <= truth[u] and placed[u] - answered[u] <= roster[u] - truth[u]
                for u in units
            ):
                views.append((placed, answered))
    return views


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_trees())
def test_no_participation_is_pinned_brute_force(case) -> None:
    """Every way the members could have answered is tried; of those that show the same
    publication and fit what an insider knows (their own participation and J others'), each
    other member must appear both as a respondent and as not."""
    parent, roster, answered, k = case

    def view(counts: Mapping[int, int]) -> dict[int, tuple[Any, ...]]:
        figures, _ = participation_figures(Tree(parent), roster, counts, k, J)
        return participation_view(figures)

    seen = view(answered)
    units = sorted(parent)
    worlds = [
        dict(zip(units, counts, strict=True))
        for counts in itertools.product(*(range(roster[u] + 1) for u in units))
    ]
    same = [w for w in worlds if view(w) == seen]
    for placed, known_answered in [({}, {}), *insider_views(roster, answered, J)]:
        fits = [
            w
            for w in same
            if all(
                known_answered[u] <= w[u] <= known_answered[u] + roster[u] - placed[u]
                for u in placed
            )
        ]
        for unit in units:
            unknown = roster[unit] - placed.get(unit, 0)
            if unknown == 0:
                continue
            mine = [w[unit] - known_answered.get(unit, 0) for w in fits]
            assert any(n < unknown for n in mine), ("pinned as answered", unit, placed)
            assert any(n > 0 for n in mine), ("pinned as not answered", unit, placed)
    figures = publish(parent, roster, [(u, {}) for u, n in answered.items() for _ in range(n)], k=k)
    assert pinning_audit(parent, roster, figures, [], k, J) == []


@st.composite
def answer_cases(draw):
    """A parent with members of its own and one child; a three-point item; every answer
    counted (at most the cap: members - J - 2)."""
    roster = {0: draw(st.integers(0, 9)), 1: draw(st.integers(0, 9))}
    sizes = {u: draw(st.integers(0, max(roster[u] - J - 2, 0))) for u in roster}
    answers = {
        u: sorted(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
        for u, n in sizes.items()
    }
    return roster, answers, draw(st.sampled_from([(3,), (2, 3)]))


@settings(max_examples=EXAMPLES // 10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_cases())
def test_no_answer_is_pinned_brute_force(case) -> None:
    """Every multiset of answers that publishes the same: nobody's answer is pinned, for an
    outsider and for a respondent who knows their own answer."""
    roster, answers, unfavourable = case
    parent = {0: None, 1: 0}
    scores = {1: 0.0, 2: 50.0, 3: 100.0}
    item = ItemInfo("q", "q", "c", "scale", (1, 2, 3), scores, scores, frozenset(unfavourable))
    k = 4

    def shown(multisets: Mapping[int, Sequence[int]]) -> dict[int, Any]:
        flat = [(u, {"q": v}) for u, values in multisets.items() for v in values]
        figures = publish(parent, roster, flat, [item], k=k)
        return {
            u: (f.get("items"), f.get("constructs"), f.get("respondents"))
            for u, f in figures.items()
        }

    seen = shown(answers)
    choices = {
        u: list(itertools.combinations_with_replacement((1, 2, 3), len(values)))
        for u, values in answers.items()
    }
    same = [
        dict(zip(choices, combo, strict=True))
        for combo in itertools.product(*choices.values())
        if shown(dict(zip(choices, combo, strict=True))) == seen
    ]
    for unit, values in answers.items():
        if values:
            possible = {v for world in same for v in world[unit]}
            assert len(possible) > 1, ("pinned", unit, possible)
    for insider_unit, values in answers.items():
        for own in set(values):
            worlds = [w for w in same if own in w[insider_unit]]
            for unit in answers:
                rest = [list(w[unit]) for w in worlds]
                if unit == insider_unit:
                    for left in rest:
                        left.remove(own)
                possible = {v for left in rest for v in left}
                assert len(possible) != 1, ("pinned for an insider", insider_unit, own, unit)
    figures = publish(
        parent, roster, [(u, {"q": v}) for u, vs in answers.items() for v in vs], [item], k=k
    )
    assert pinning_audit(parent, roster, figures, scales([item]), k, J) == []


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 7),
    points=st.integers(2, 5),
    data=st.data(),
)
def test_the_audit_arithmetic_is_exact(n: int, points: int, data) -> None:
    """Which answers an atom's respondent can have, by the audit and by enumerating every
    multiset of answers against the same published ranges."""
    step = 100 / (points - 1)
    scores = tuple(i * step for i in range(points))
    cut = data.draw(st.integers(0, points))
    unfavourable = tuple(i >= cut for i in range(points))
    low = data.draw(st.floats(0, 100 * n, allow_nan=False))
    high = data.draw(st.floats(low, 100 * n, allow_nan=False))
    bad_low = data.draw(st.integers(0, n))
    bad_high = data.draw(st.integers(bad_low, n))
    scale = ItemScale("q", scores, unfavourable)
    atom = _Atom(0, n, (low, high), 0)
    by_audit = _possible_answers(scale, atom, (bad_low, bad_high))
    brute = set()
    for multiset in itertools.combinations_with_replacement(range(points), n):
        total = sum(scores[v] for v in multiset)
        bad = sum(unfavourable[v] for v in multiset)
        if low - 1e-9 <= total <= high + 1e-9 and bad_low <= bad <= bad_high:
            brute |= set(multiset)
    assert by_audit == brute


def test_the_audit_catches_what_the_old_rules_published() -> None:
    """The publications of the attacks as the rules before this audit made them, judged as
    they were published: for an outsider."""
    stress = [scale_item("stress", "stress")]
    # Attack 1: "6 answered (100%)" for the enhet of Ann and her team.
    old: RoundFigures = {
        ENHET: {"shown": True, "respondents": 6, "members": 6, "items": {}, "constructs": {}},
        TEAM: {"shown": False},
    }
    assert pinning_audit(ANN_TREE, ANN_ROSTER, old, [], K, OUTSIDER)[0].measure == "participation"
    # A team hidden as "fewer than 5 answered" (at most 4 of 6) pins Ann when the enhet
    # shows 5 of 7 - and does not when it shows 4.
    roster = {ENHET: 1, TEAM: 6}
    old[ENHET] |= {"respondents": 5, "members": 7}
    assert pinning_audit(ANN_TREE, roster, old, [], K, OUTSIDER)[0].why.startswith("everyone")
    old[ENHET]["respondents"] = 4
    assert pinning_audit(ANN_TREE, roster, old, [], K, OUTSIDER) == []
    # Attack 2: "Stress: 100" for a team of five.
    team: RoundFigures = {
        1: {
            "shown": True,
            "respondents": 5,
            "members": 6,
            "items": {"stress": {"n": 5, "lineage": "stress", "mean": [100.0, 100.0]}},
            "constructs": {},
        }
    }
    pins = pinning_audit({1: None}, {1: 6}, team, scales(stress), K, OUTSIDER)
    assert [p.measure for p in pins] == ["stress"]
    # A parent and a child whose difference is a unanimous block.
    nested: RoundFigures = {
        1: {
            "shown": True,
            "respondents": 10,
            "members": 12,
            "items": {"stress": {"n": 10, "lineage": "stress", "mean": [62.5, 62.5]}},
        },
        2: {
            "shown": True,
            "respondents": 5,
            "members": 6,
            "items": {"stress": {"n": 5, "lineage": "stress", "mean": [25.0, 25.0]}},
        },
    }
    assert [
        p.unit
        for p in pinning_audit({1: None, 2: 1}, {1: 6, 2: 6}, nested, scales(stress), K, OUTSIDER)
    ] == [1]


# --- Attack 3: re-publication after moving units ---------------------------------------------


def test_attack_3_moving_units_and_recomputing_publishes_nothing_new(make_world) -> None:
    from sqlmodel import select

    from aggregation.close import close_round, compute_statistics
    from survey.enrolment import create_unit, move_unit
    from survey.storage.models import RoundStatistic

    world = make_world((6, 6, 6))
    for n, member in enumerate(world.members[:-1]):  # 17 of 18 answer
        answers = {"behind": 1 + n % 5, "stress": 1 + n % 3, "support": 3, "deadlines": "no"}
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=answers)
    close_round(world.db, world.keys, world.round.id)

    def stored() -> RoundFigures:
        with world.db.session() as session:
            rows = session.exec(select(RoundStatistic)).all()
            return {row.unit_id: row.figures for row in rows}

    before = stored()
    # The hostile admin regroups: a new unit holding two of the teams, and one team moved out.
    group = create_unit(world.db, "Regrouped", parent_id=world.root.id)
    move_unit(world.db, world.teams[0].id, group.id)
    move_unit(world.db, world.teams[1].id, group.id)
    compute_statistics(world.db, world.keys, world.round.id)  # recompute: same tree, same figures
    assert stored() == before
    # A publication that differs from the first one is refused, not stored next to it.
    with world.db.session() as session:
        row = session.get(RoundStatistic, (world.round.id, world.root.id))
        row.figures = {**row.figures, "respondents": row.figures["respondents"] + 1}
    with pytest.raises(StatisticsError, match="differ from those published"):
        compute_statistics(world.db, world.keys, world.round.id)
