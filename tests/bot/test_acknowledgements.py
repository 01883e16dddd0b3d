"""Truthful acknowledgements: once a change is stored, a Telegram call that fails afterwards is
tried again or replaced by a new message, and the person is never told "nothing was saved".

One test per flow, each failing the call that confirms the change (as Telegram's 5xx do), on
both engines. Before: four of five flows said "nothing was saved" for what was stored, and
recording an action told the manager nothing.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from survey.actions import list_actions
from survey.storage import DatabaseUnavailableError
from survey.storage.models import ActionStatus, TalkRequest
from tests.bot.loop_world import (
    MANAGER_A,
    SAFETY_A,
    WORKER_B,
    ask_for_the_area,
    button,
    describe_the_action,
    record_through_the_bot,
)

NOTHING_SAVED = "nothing was saved"


def _told(api, chat: int) -> str:
    """Everything the person saw: messages and the notices on pressed buttons."""
    notices = [answer.get("text") or "" for answer in api.answered_callbacks.values()]
    return "\n".join(api.texts(chat) + notices)


async def test_recording_an_action_is_confirmed_although_the_first_send_fails(bot, tree, db):
    api = bot
    choose = await ask_for_the_area(api)
    due = await describe_the_action(api, choose, "Weekly case review", "Unit manager")
    api.fail("sendMessage", 500, times=1)  # the confirmation's first try
    api.press(MANAGER_A, due, due.buttons()[1][1], language="en")
    await api.wait_for(lambda: "Recorded:" in (api.last(MANAGER_A).text or ""))
    assert len(list_actions(db)) == 1
    assert NOTHING_SAVED not in _told(api, MANAGER_A)


async def test_a_status_is_confirmed_when_the_edit_keeps_failing(bot, tree, db) -> None:
    api = bot
    await record_through_the_bot(api)
    api.send_text(MANAGER_A, "/actions", language="en")
    await api.wait_for(lambda: any("Done" in str(m.buttons()) for m in api.messages[MANAGER_A]))
    listed = next(m for m in api.messages[MANAGER_A] if "Done" in str(m.buttons()))
    api.fail("answerCallbackQuery", 500, times=1)
    api.fail("editMessageText", 502, "Bad Gateway", times=3)  # every try of the edit
    api.press(MANAGER_A, listed, button(listed, "Done"), language="en")
    await api.wait_for(lambda: "Status: done" in (api.last(MANAGER_A).text or ""))
    assert api.last(MANAGER_A) is not listed  # a new message in place of the edit
    assert list_actions(db)[0].action.status == ActionStatus.DONE
    assert NOTHING_SAVED not in _told(api, MANAGER_A)


async def test_a_comment_is_confirmed_although_the_first_send_fails(bot, tree, db) -> None:
    api = bot
    await record_through_the_bot(api)
    api.send_text(SAFETY_A, "/actions", language="en")
    await api.wait_for(lambda: any("A mentor" in t for t in api.texts(SAFETY_A)))
    listed = next(m for m in api.messages[SAFETY_A] if "A mentor" in (m.text or ""))
    api.press(SAFETY_A, listed, button(listed, "Comment"), language="en")
    await api.wait_for(lambda: "Write your comment" in (api.last(SAFETY_A).text or ""))
    api.fail("sendMessage", 500, times=1)
    api.send_text(SAFETY_A, "Good. Take it up at the workplace meeting.", language="en")
    await api.wait_for(lambda: "Comment saved" in (api.last(SAFETY_A).text or ""))
    assert len(list_actions(db)[0].comments) == 1
    assert NOTHING_SAVED not in _told(api, SAFETY_A)


async def test_a_failure_after_the_comment_was_stored_says_it_was_saved(
    bot, tree, db, monkeypatch
) -> None:
    """Not a Telegram call but the next database write fails (forgetting the prompt): the
    comment is stored, and the error says so instead of "nothing was saved"."""
    import bot.prompts as prompts

    api = bot
    await record_through_the_bot(api)
    api.send_text(SAFETY_A, "/actions", language="en")
    await api.wait_for(lambda: any("A mentor" in t for t in api.texts(SAFETY_A)))
    listed = next(m for m in api.messages[SAFETY_A] if "A mentor" in (m.text or ""))
    api.press(SAFETY_A, listed, button(listed, "Comment"), language="en")
    await api.wait_for(lambda: "Write your comment" in (api.last(SAFETY_A).text or ""))

    def unavailable(*_: object) -> None:
        raise DatabaseUnavailableError("the database went away")

    monkeypatch.setattr(prompts, "forget_prompt", unavailable)
    api.send_text(SAFETY_A, "Good. Take it up at the workplace meeting.", language="en")
    await api.wait_for(lambda: "Saved – but" in (api.last(SAFETY_A).text or ""))
    assert "no need to do it again" in (api.last(SAFETY_A).text or "")
    assert len(list_actions(db)[0].comments) == 1
    assert NOTHING_SAVED not in _told(api, SAFETY_A)


async def test_a_note_is_confirmed_although_the_first_send_fails(bot, tree, db) -> None:
    api = bot
    api.fail("sendMessage", 500, times=1)
    api.send_text(MANAGER_A, "/note Thank you all – we take this up on Tuesday.", language="en")
    await api.wait_for(lambda: any("Your note goes to" in t for t in api.texts(MANAGER_A)))
    assert NOTHING_SAVED not in _told(api, MANAGER_A)


async def test_a_request_to_talk_is_confirmed_when_the_press_and_edit_fail(bot, tree, db):
    api = bot
    api.send_text(WORKER_B, "/talk", language="en")
    await api.wait_for(lambda: api.texts(WORKER_B))
    offer = api.last(WORKER_B)
    api.fail("answerCallbackQuery", 500, times=1)
    api.fail("editMessageText", 500, times=1)
    api.press(WORKER_B, offer, button(offer, "My manager"), language="en")
    await api.wait_for(lambda: "tomorrow morning" in (offer.text or ""))
    with db.session() as session:
        assert len(session.exec(select(TalkRequest)).all()) == 1
    assert NOTHING_SAVED not in _told(api, WORKER_B)


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch) -> None:
    import bot.acknowledge as acknowledge

    monkeypatch.setattr(acknowledge, "BACKOFF", 0.01)
