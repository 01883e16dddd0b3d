"""The results a worker gets: the smallest published group containing them, never a hidden one,
and a response band that contains the true share and no more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aggregation.close import close_round
from aggregation.worker_summary import response_band, worker_summary
from bot.messages import worker_summary_text
from survey.submissions import submit
from tests.conftest import DEFAULT_ITEMS


def _answer(world, counts: tuple[int, ...]) -> None:
    """The first ``counts[i]`` members of team i answer, not all alike."""
    for team, count in zip(world.teams, counts, strict=True):
        members = [m for m in world.members if m.unit_id == team.id]
        for n, member in enumerate(members[:count]):
            submit(
                world.db,
                world.keys,
                member_id=member.id,
                round_id=world.round.id,
                answers={i.key: i.options[n % 2] for i in DEFAULT_ITEMS},
            )
    close_round(world.db, world.keys, world.round.id)


def test_a_team_too_small_this_time_gets_the_unit_it_rolled_into(make_world) -> None:
    world = make_world((8, 8))
    _answer(world, (3, 3))  # neither team has k answers; the unit has six
    summary = worker_summary(world.db, world.round.id, world.teams[0].id, change_spread=25)
    assert summary is not None
    assert summary.group_name == world.root.name
    assert not summary.own_unit
    text = worker_summary_text(summary, "en")
    assert "too few answered in your unit this time" in text
    assert world.teams[0].name not in text


def test_a_team_that_can_never_be_shown_is_told_so_not_that_few_answered(make_world) -> None:
    """Case 5 of the insider issue: a team of 6 (below k + J + 2) in which everyone answered
    was told "fewer than 5 answered"."""
    world = make_world((6, 6))
    _answer(world, (6, 6))
    summary = worker_summary(world.db, world.round.id, world.teams[0].id, change_spread=25)
    assert summary is not None
    assert summary.group_name == world.root.name
    for language, words, wrong in (
        ("en", "too few members to be shown on its own", "few answered"),
        ("sv", "för få medlemmar för att visas för sig", "få svarade"),
    ):
        text = worker_summary_text(summary, language)
        assert words in text, text
        assert wrong not in text, text


def test_nothing_shown_anywhere_says_so_and_shows_no_figure(make_world) -> None:
    world = make_world((6, 6))
    _answer(world, (2, 2))
    summary = worker_summary(world.db, world.round.id, world.teams[1].id, change_spread=25)
    assert summary is not None
    assert summary.report is None
    text = worker_summary_text(summary, "sv")
    assert "För få svarade" in text
    assert "%" not in text.split("</b>", 1)[1].split("<i>")[0]  # no band, no figure


@given(members=st.integers(1, 400), data=st.data())
def test_the_band_holds_the_true_share_and_is_ten_points(members: int, data) -> None:
    respondents = data.draw(st.integers(0, members))
    at_least = data.draw(st.booleans())
    band = response_band(respondents, members, at_least)
    assert band is not None
    low, high = band
    # Ten points, or open upwards ("at least 60 %") where the count is a lower bound: a band
    # the true share may lie above is never given.
    assert high - low == 10 or high == 100
    if at_least:
        assert high == 100
    assert low % 10 == 0
    assert low <= respondents / members * 100 <= high
    assert 0 <= low <= 90
