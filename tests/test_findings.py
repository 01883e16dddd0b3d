"""Which changes a report calls clear, and what it puts first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aggregation.findings import Change, change_margin

SPREAD = 25.0


def test_the_same_change_is_noise_for_five_and_clear_for_a_hundred() -> None:
    small = Change("stress", 8.0, change_margin(SPREAD, 5, [5]), worse=True)
    large = Change("stress", 8.0, change_margin(SPREAD, 100, [100]), worse=True)
    assert not small.clear
    assert large.clear


@given(
    st.integers(3, 500),
    st.integers(3, 500),
    st.integers(1, 500),
    st.lists(st.integers(3, 500), min_size=2, max_size=4),
)
def test_margins_shrink_with_more_answers_and_more_rounds(now, before, more, window) -> None:
    one = change_margin(SPREAD, now, [before])
    assert change_margin(SPREAD, now + more, [before]) < one
    assert change_margin(SPREAD, now, [before + more]) < one
    assert change_margin(SPREAD, now, [before]) == change_margin(SPREAD, before, [now])
    # A mean over several rounds is steadier than any one of them.
    assert change_margin(SPREAD, now, window) <= max(
        change_margin(SPREAD, now, [n]) for n in window
    )
