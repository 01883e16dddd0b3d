"""Workers in chat, end to end: real python-telegram-bot, local Bot API server, real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from survey.storage.models import Member, Participation, PoolSubmission, SurveyRound
from tests.bot.conftest import answer_every_question

USER = 5_123_456_789


def _count(db, model) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()


async def _join(api, org, user: int = USER, language: str = "en") -> None:
    before = len(api.texts(user))
    api.send_text(user, f"/start {org['invite'].token}", language=language)
    await api.wait_for(lambda: len(api.texts(user)) >= before + 2)


async def test_join_by_invite_and_choose_language(bot, org, db) -> None:
    api = bot
    api.send_text(USER, "/start", language="en")
    await api.wait_for(lambda: api.texts(USER))
    assert "open the invite link" in api.texts(USER)[0]
    api.send_text(USER, "/start not-a-real-invite-code-at-all", language="en")
    await api.wait_for(lambda: len(api.texts(USER)) == 2)
    assert "not valid" in api.texts(USER)[1]
    await _join(api, org, language="sv")
    welcome = api.texts(USER)[2]
    assert "Välkommen" in welcome
    assert "already answered" not in welcome
    assert "Din chef ser resultat bara för grupper" in welcome  # the privacy statement, plainly
    assert "pseudonym" not in welcome  # the technical words wait behind a button
    welcome_message = next(m for m in api.messages[USER] if m.text == welcome)
    ((details_label, details),) = welcome_message.buttons()
    assert details_label == "Tekniska detaljer"
    choice = api.last(USER)
    assert [label for label, _ in choice.buttons()] == ["Svenska", "English"]
    api.press(USER, welcome_message, details)
    await api.wait_for(lambda: "HMAC-SHA256" in api.texts(USER)[-1])
    assert api.texts(USER)[-1].startswith("<b>Tekniska detaljer</b>")
    api.press(USER, choice, choice.buttons()[1][1])
    await api.wait_for(lambda: choice.text == "Language: English")
    with db.session() as session:
        member = session.exec(select(Member)).one()
    assert (member.unit_id, member.language) == (org["unit"].id, "en")
    # /start again, without a code (the menu button, a reflex): the help for a worker.
    before = len(api.texts(USER))
    api.send_text(USER, "/start", language="en")
    await api.wait_for(lambda: len(api.texts(USER)) > before)
    assert "/checkin" in api.texts(USER)[-1]


async def test_a_full_check_in_is_one_message_edited_in_place(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    message = api.last(USER)
    pressed = []
    for _ in range(20):
        if not (message.text or "").startswith("Question"):
            break
        _, data = message.buttons()[1]  # always the second option
        before = message.text
        pressed.append(api.press(USER, message, data))
        await api.wait_for(lambda m=message, b=before: m.text != b)
    assert "Your answers" in (message.text or "")
    assert _count(db, Participation) == 0  # nothing stored before "send" (P5)
    send = dict(message.buttons())["✓ Send"]
    pressed.append(api.press(USER, message, send))
    await api.wait_for(lambda: "Thank you" in (message.text or ""))
    assert (_count(db, Participation), _count(db, PoolSubmission)) == (1, 1)
    again = api.press(USER, message, send)  # a double tap on the old "send"
    await api.wait_for(lambda: again in api.answered_callbacks)
    assert "already answered" in api.answered_callbacks[again].get("text", "")
    assert (_count(db, Participation), _count(db, PoolSubmission)) == (1, 1)
    await api.wait_for(lambda: all(p in api.answered_callbacks for p in pressed))
    assert "not what you answered" in (message.text or "")  # what is left, said truly
    assert [label for label, _ in message.buttons()] == [
        "Delete the message",
        "Keep it",
        # The offer to talk, the same after every check-in whatever was answered (/talk).
        "I would like to talk about my work situation",
    ]
    remove = message.buttons()[0][1]
    api.press(USER, message, remove)
    await api.wait_for(lambda: message.deleted)  # P9: the check-in leaves the chat too


async def test_keeping_the_thanks_takes_the_offer_away(bot, org) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    message = api.last(USER)
    await answer_every_question(api, USER, message)
    api.press(USER, message, dict(message.buttons())["✓ Send"])
    await api.wait_for(lambda: "Keep it" in [label for label, _ in message.buttons()])
    api.press(USER, message, dict(message.buttons())["Keep it"])
    await api.wait_for(lambda: not message.buttons())
    assert message.text == "Thank you! Your answers are sealed and saved, with no link to you."
    assert not message.deleted


async def test_any_answer_is_changed_from_the_summary(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    message = api.last(USER)
    await answer_every_question(api, USER, message)
    summary = message.text or ""
    assert "Your answers" in summary
    before = message.text
    api.press(USER, message, dict(message.buttons())["✎ Change an answer"])
    await api.wait_for_change(message, before)
    assert message.text == "Which answer do you want to change?"
    choices = message.buttons()
    assert len(choices) == len(org["round"].items) + 1  # every question, and back
    assert choices[2][0].startswith("3. ")
    before = message.text
    api.press(USER, message, choices[2][1])  # the third question
    await api.wait_for_change(message, before)
    assert (message.text or "").startswith("Question 3 of")
    before = message.text
    api.press(USER, message, message.buttons()[0][1])  # its first option this time
    await api.wait_for_change(message, before)
    assert "Your answers" in (message.text or "")
    assert message.text != summary  # the third answer changed, the others did not
    lines = zip(summary.split("\n"), (message.text or "").split("\n"), strict=True)
    changed = [a != b for a, b in lines]
    assert sum(changed) == 1
    api.press(USER, message, dict(message.buttons())["✓ Send"])
    await api.wait_for(lambda: "Thank you" in (message.text or ""))
    assert _count(db, Participation) == 1


async def test_an_old_check_in_message_says_so_at_the_first_press(bot, org, db) -> None:
    """Twelve taps for nothing were the old behaviour: an answered check-in's older message is
    closed at once, and so is one whose round has closed."""
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    old = api.last(USER)
    api.send_text(USER, "/checkin", language="en")  # a second copy of the same check-in
    await api.wait_for(lambda: api.last(USER) is not old)
    current = api.last(USER)
    await answer_every_question(api, USER, current)
    api.press(USER, current, dict(current.buttons())["✓ Send"])
    await api.wait_for(lambda: "Thank you" in (current.text or ""))
    press = api.press(USER, old, old.buttons()[0][1])  # the first tap on the older copy
    await api.wait_for(lambda: press in api.answered_callbacks)
    assert "already answered" in api.answered_callbacks[press]["text"]
    await api.wait_for(lambda: not old.buttons())
    assert "already answered" in (old.text or "")


async def test_a_check_in_of_a_closed_round_says_so_at_the_first_press(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    message = api.last(USER)
    with db.session() as session:  # the round's time is up (the close itself comes later)
        survey_round = session.get(SurveyRound, org["round"].id)
        assert survey_round is not None
        survey_round.closes_at = datetime.now(UTC) - timedelta(seconds=1)
    press = api.press(USER, message, message.buttons()[0][1])
    await api.wait_for(lambda: press in api.answered_callbacks)
    assert "closed" in api.answered_callbacks[press]["text"]
    await api.wait_for(lambda: not message.buttons())
    assert message.text == "This check-in has closed."


async def test_forged_and_borrowed_buttons_change_nothing(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1" in (api.last(USER).text or ""))
    message = api.last(USER)
    _, genuine = message.buttons()[0]
    forged = api.press(USER, message, genuine[:-3] + "AAA")
    borrowed = api.press(USER + 1, message, genuine, language="en")  # another user's button
    junk = api.press(USER, message, "c1|1||s|xxxxxxxx")
    await api.wait_for(lambda: {forged, borrowed, junk} <= set(api.answered_callbacks))
    for callback in (forged, borrowed, junk):
        assert "not valid" in api.answered_callbacks[callback]["text"]
    assert "Question 1" in (message.text or "")
    assert _count(db, Participation) == 0


async def test_group_chats_are_refused_once_and_left(bot, org) -> None:
    api = bot
    group = -100123
    api.send_text(USER, "/checkin", chat_type="group", chat_id=group, language="en")
    api.send_text(USER, "hello", chat_type="group", chat_id=group, language="en")
    await api.wait_for(lambda: api.left_chats.count(group) >= 2)
    assert len(api.texts(group)) == 1
    assert "only in private chats" in api.texts(group)[0]


async def test_a_group_that_cannot_be_left_is_tried_again_and_breaks_nothing(bot, org) -> None:
    api = bot
    group = -100456
    api.fail("leaveChat", 400, "Bad Request: chat not found")
    api.send_text(USER, "/checkin", chat_type="group", chat_id=group, language="en")
    await api.wait_for(lambda: api.count("leaveChat") == 1)
    api.send_text(USER, "hello again", chat_type="group", chat_id=group, language="en")
    await api.wait_for(lambda: api.left_chats.count(group) == 1)  # the second try worked
    assert len(api.texts(group)) == 1  # explained once
    api.send_text(USER, "/help", language="en")  # and the bot is still there for everyone
    await api.wait_for(lambda: api.texts(USER))


async def test_leave_deletes_the_member_after_confirmation(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    api.send_text(USER, "/leave", language="en")
    await api.wait_for(lambda: "Do you want to leave" in (api.last(USER).text or ""))
    question = api.last(USER)
    assert "stay, anonymous" in (question.text or "")
    api.press(USER, question, question.buttons()[0][1])
    await api.wait_for(lambda: "You have left" in (question.text or ""))
    assert _count(db, Member) == 0


async def test_a_database_outage_gets_a_clear_message_and_loses_nothing(bot, org, db) -> None:
    api = bot
    await _join(api, org)
    original = db.engine
    from survey.storage import make_engine

    db.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")  # the outage
    try:
        api.send_text(USER, "/checkin", language="en")
        await api.wait_for(lambda: "went wrong on our side" in api.texts(USER)[-1])
    finally:
        db.engine.dispose()
        db.engine = original
    assert _count(db, Member) == 1  # the membership is intact after the outage


async def test_saved_answers_are_acknowledged_even_when_telegram_fails_after_the_commit(
    bot, org, db
) -> None:
    """Telegram answers 5xx to the acknowledgement and to both edits after the answers were
    committed: the member must not be told "nothing was saved"; the thanks come anyway."""
    api = bot
    await _join(api, org)
    api.send_text(USER, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(USER).text or ""))
    message = api.last(USER)
    await answer_every_question(api, USER, message)
    api.fail("answerCallbackQuery", 502, "Bad Gateway")
    api.fail("editMessageText", 502, "Bad Gateway", times=2)
    api.press(USER, message, dict(message.buttons())["✓ Send"])
    await api.wait_for(lambda: any("Thank you" in t for t in api.texts(USER)))
    assert (_count(db, Participation), _count(db, PoolSubmission)) == (1, 1)
    assert not any("nothing was saved" in t for t in api.texts(USER))
    assert not any(
        "nothing was saved" in (a.get("text") or "") for a in api.answered_callbacks.values()
    )
