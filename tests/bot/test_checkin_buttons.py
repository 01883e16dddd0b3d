"""Check-in state in signed buttons: fits 64 bytes, round-trips, refuses forgeries (P5)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.checkin import CHOOSING, CheckinState, ItemView, answers_of, step
from survey.crypto.buttons import ButtonSigner
from survey.questions import LockedItem

SIGNER = ButtonSigner(b"k" * 32)
answer_lists = st.lists(st.one_of(st.none(), st.integers(0, 35)), max_size=20).map(tuple)
states = st.one_of(
    st.builds(CheckinState, round_id=st.integers(1, 10**9), answers=answer_lists),
    # From the summary: choosing which answer to change, or changing answer i.
    answer_lists.filter(len).flatmap(
        lambda answers: st.builds(
            CheckinState,
            round_id=st.integers(1, 10**9),
            answers=st.just(answers),
            focus=st.sampled_from([CHOOSING, *range(len(answers))]),
        )
    ),
)
actions = st.sampled_from(["a0", "a9", "aa", "k", "b", "s", "c", "d", "e0", "e5"])


@given(states, actions, st.integers(1, 10**12))
def test_signed_state_round_trips_within_64_bytes(state, action, user) -> None:
    data = SIGNER.sign(state.encode(action), user)
    assert len(data.encode()) <= 64
    payload = SIGNER.verify(data, user)
    assert payload is not None
    assert CheckinState.decode(payload) == (state, action)


@given(states, actions, st.integers(1, 10**12), st.data())
def test_altered_or_borrowed_buttons_are_refused(state, action, user, data) -> None:
    signed = SIGNER.sign(state.encode(action), user)
    assert SIGNER.verify(signed, user + 1) is None  # another user's button
    position = data.draw(st.integers(0, len(signed) - 1))
    replacement = data.draw(st.sampled_from("0123456789abcxyz|-_"))
    forged = signed[:position] + replacement + signed[position + 1 :]
    if forged != signed:
        assert SIGNER.verify(forged, user) is None
    assert SIGNER.verify(state.encode(action), user) is None  # unsigned
    assert ButtonSigner(b"j" * 32).verify(signed, user) is None  # another installation


@given(st.text(max_size=64))
def test_garbage_never_decodes_to_a_state_by_accident(text: str) -> None:
    decoded = CheckinState.decode(text)
    if decoded is not None:
        assert text.startswith("c1|")


VIEWS = [
    ItemView(LockedItem(key="stress", options=(1, 2, 3, 4, 5)), "Stress?", tuple("abcde")),
    ItemView(
        LockedItem(key="deadlines", options=("yes", "no", "na"), required=False),
        "Deadlines?",
        ("Yes", "No", "N/A"),
    ),
]


def test_steps_forward_back_skip_and_send() -> None:
    start = CheckinState(7, ())
    first = step(VIEWS, start, "a3")
    assert first == CheckinState(7, (3,))
    assert step(VIEWS, start, "k") is None  # the first item is required
    skipped = step(VIEWS, first, "k")
    assert skipped == CheckinState(7, (3, None))
    assert answers_of(VIEWS, skipped) == {"stress": 4}
    assert step(VIEWS, skipped, "s") == skipped  # send from the summary
    assert step(VIEWS, first, "b") == start
    assert step(VIEWS, first, "s") is None  # a stale "send" from an earlier screen
    assert step(VIEWS, first, "a9") is None  # no such option


def test_any_answer_can_be_changed_from_the_summary() -> None:
    done = CheckinState(7, (3, 1))
    choosing = step(VIEWS, done, "c")
    assert choosing == CheckinState(7, (3, 1), CHOOSING)
    assert step(VIEWS, choosing, "b") == done  # back to the summary, nothing changed
    first = step(VIEWS, choosing, "e0")
    assert first == CheckinState(7, (3, 1), 0)
    assert step(VIEWS, first, "a0") == CheckinState(7, (0, 1))  # straight back to the summary
    assert step(VIEWS, first, "k") is None  # the first item is required
    assert step(VIEWS, first, "b") == choosing
    second = step(VIEWS, choosing, "e1")
    assert second is not None
    assert step(VIEWS, second, "k") == CheckinState(7, (3, None))  # optional: may be skipped
    assert step(VIEWS, choosing, "e2") is None  # no third question
    assert step(VIEWS, choosing, "s") is None  # no sending half-way through a change
    assert step(VIEWS, first, "s") is None
    assert CheckinState.decode("c1|7|31~9|a0") is None  # a focus beyond the answers


def test_a_check_in_of_skips_only_offers_no_send() -> None:
    """Every question optional and every one skipped: there is nothing to send, and a send
    would count the worker as having answered; the summary says so and offers a change."""
    from bot.checkin import Screen
    from survey.i18n import Texts

    views = [VIEWS[1], VIEWS[1]]
    skipped = CheckinState(7, (None, None))
    text, keyboard = Screen(views, Texts("en"), SIGNER, 42).summary(skipped)
    labels = [button.text for row in keyboard.inline_keyboard for button in row]
    assert labels == ["✎ Change an answer"]
    assert "nothing to send" in text
    assert step(views, skipped, "c") == CheckinState(7, (None, None), CHOOSING)
    assert step(views, skipped, "s") is None  # an old or forged "send" sends nothing
