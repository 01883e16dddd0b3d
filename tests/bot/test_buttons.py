"""The button codec (bot.buttons): every kind round-trips, fits Telegram's 64 bytes, keeps the
wire format of buttons already in people's chats, and refuses data that fits no kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.buttons import (
    KINDS,
    ActionArea,
    ActionComment,
    ActionDue,
    ActivateQuestionSet,
    AfterCheckin,
    Button,
    Channel,
    ChooseLanguage,
    Leave,
    MoveAction,
    PrivacyDetails,
    RecordAction,
    Results,
    Talk,
    TalkReply,
    data,
    read,
)
from survey.crypto.buttons import ButtonSigner
from survey.storage.models import TalkRecipient

SIGNER = ButtonSigner(b"k" * 32)
USER = 7_100_000_001
#: Telegram refuses callback data over 64 bytes.
LIMIT = 64

ids = st.integers(min_value=0, max_value=9_999_999_999)
construct_keys = st.from_regex(r"\A[a-z][a-z0-9_]{0,39}\Z")
#: How to draw every kind of button: the widest values each can carry.
DRAWN: dict[type[Button], st.SearchStrategy[Button]] = {
    ChooseLanguage: st.builds(ChooseLanguage, st.sampled_from(["sv", "en"])),
    PrivacyDetails: st.just(PrivacyDetails()),
    AfterCheckin: st.builds(AfterCheckin, st.sampled_from(["", "keep"])),
    Leave: st.builds(Leave, st.sampled_from(["leave", "stay"])),
    Results: st.builds(Results, st.sampled_from(["on", "off"])),
    Channel: st.builds(Channel, st.sampled_from(["webapp", "chat"])),
    Talk: st.builds(Talk, st.none() | st.sampled_from(list(TalkRecipient))),
    RecordAction: st.builds(RecordAction, ids),
    ActionArea: st.builds(ActionArea, ids, st.none() | construct_keys),
    ActionDue: st.builds(ActionDue, st.integers(min_value=0, max_value=3650)),
    MoveAction: st.builds(MoveAction, ids, st.sampled_from(["o", "d"])),
    ActionComment: st.builds(ActionComment, ids),
    TalkReply: st.builds(TalkReply, ids),
    ActivateQuestionSet: st.builds(
        ActivateQuestionSet, st.text("0123456789abcdef", min_size=16, max_size=16)
    ),
}
buttons = st.one_of(*DRAWN.values())


def _verified(button: Button) -> str:
    payload = SIGNER.verify(data(button, SIGNER, USER), USER)
    assert payload is not None
    return payload


@given(buttons)
def test_every_button_comes_back_as_it_was_made_and_fits_telegram(button: Button) -> None:
    callback = data(button, SIGNER, USER)
    assert len(callback.encode()) <= LIMIT
    assert read(_verified(button)) == button


def test_every_kind_is_covered_by_the_property() -> None:
    assert set(DRAWN) == set(KINDS.values())


@pytest.mark.parametrize(
    ("button", "wire"),
    [
        (ChooseLanguage("sv"), "l|sv"),
        (PrivacyDetails(), "p|tech"),
        (AfterCheckin(""), "x|"),
        (AfterCheckin("keep"), "x|keep"),
        (Leave("leave"), "q|leave"),
        (Results("off"), "rs|off"),
        (Talk(None), "tk|"),
        (Talk(TalkRecipient.MANAGER), "tk|manager"),
        (RecordAction(12), "an|12"),
        (ActionDue(14), "ad|14"),
        (MoveAction(5, "d"), "as|5|d"),
        (ActionComment(5), "am|5"),
        (TalkReply(9), "tr|9"),
        (ActivateQuestionSet("0a1b"), "qa|0a1b"),
    ],
)
def test_buttons_already_in_chats_keep_working(button: Button, wire: str) -> None:
    assert _verified(button) == wire
    assert read(wire) == button


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "zz|1",  # no such kind
        "as|5",  # a field missing
        "as|5|d|x",  # one too many
        "as|five|d",  # not a number
        "as|-5|d",  # not an id
        "as|5|x",  # a status not offered
        "l|de",  # a language not offered
        "qa|",  # an empty digest
        "tk|nobody",  # no such recipient
        "c1|1|0|s",  # the check-in has its own codec
    ],
)
def test_data_that_fits_no_kind_is_refused(payload: str) -> None:
    assert read(payload) is None


@given(st.text(max_size=80))
def test_reading_any_text_never_fails(payload: str) -> None:
    button = read(payload)
    assert button is None or isinstance(button, Button)
