"""Closing the loop through the real bot: actions, comments, results back to workers, the
follow-up question, and asking to talk - each with the attack that matters for it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlmodel import select

from bot.scheduler import follow_up_actions, run_tick
from survey.actions import followup_items, list_actions, record_action
from survey.enrolment import enrol_member
from survey.questions.locked import LockedItem, lock_items
from survey.rounds import open_round
from survey.storage.models import (
    Action,
    ActionStatus,
    PendingPrompt,
    Role,
    RoundStatistic,
    SurveyRound,
    TalkRequest,
)
from tests.bot.loop_world import (
    MANAGER_A,
    MANAGER_B,
    SAFETY_A,
    WORKER_A,
    WORKER_B,
    ask_for_the_area,
    button,
    record_through_the_bot,
)


async def test_a_manager_records_an_action_and_a_safety_rep_comments(bot, tree, db) -> None:
    api = bot
    confirmation = await record_through_the_bot(api)
    assert "owner Unit manager &lt;Anna&gt;" in confirmation  # the manager's words, escaped
    [view] = list_actions(db)
    assert view.action.construct_key == "support"
    assert view.action.unit_id == tree["a"].id

    api.send_text(SAFETY_A, "/actions", language="en")
    await api.wait_for(lambda: any("A mentor" in t for t in api.texts(SAFETY_A)))
    listed = next(m for m in api.messages[SAFETY_A] if "A mentor" in (m.text or ""))
    assert [label for label, _ in listed.buttons()] == ["Comment"]  # no status buttons
    api.press(SAFETY_A, listed, button(listed, "Comment"), language="en")
    await api.wait_for(lambda: "Write your comment" in (api.last(SAFETY_A).text or ""))
    api.send_text(SAFETY_A, "Good. Take it up at the workplace meeting.", language="en")
    await api.wait_for(lambda: "Comment saved" in (api.last(SAFETY_A).text or ""))

    api.send_text(MANAGER_A, "/actions", language="en")
    await api.wait_for(lambda: any("workplace meeting" in t for t in api.texts(MANAGER_A)))
    mine = next(m for m in api.messages[MANAGER_A] if "workplace meeting" in (m.text or ""))
    assert "Safety representative" in (mine.text or "")
    api.press(MANAGER_A, mine, button(mine, "Done"), language="en")
    await api.wait_for(lambda: "Status: done" in (mine.text or ""))
    assert list_actions(db)[0].action.status == ActionStatus.DONE


async def test_staff_of_another_unit_see_and_change_no_action(bot, tree, db, keys) -> None:
    api = bot
    await record_through_the_bot(api)
    [view] = list_actions(db)
    api.send_text(MANAGER_B, "/actions", language="en")
    await api.wait_for(lambda: api.texts(MANAGER_B))
    assert api.texts(MANAGER_B) == ["No actions recorded yet."]
    api.send_text(MANAGER_B, f"/actions {tree['a'].id}", language="en")
    await api.wait_for(lambda: len(api.texts(MANAGER_B)) == 2)
    assert "only the units you were given access to" in api.texts(MANAGER_B)[1]
    # A press built for an action of Team A (signed for B's manager, as a leaked button
    # would be after re-signing with the bot's key): refused, nothing changes.
    message = api.messages[MANAGER_B][0]
    forged = keys.button_signer().sign(f"as|{view.action.id}|d", MANAGER_B)
    query = api.press(MANAGER_B, message, forged, language="en")
    await api.wait_for(lambda: query in api.answered_callbacks)
    assert "no such action" in api.answered_callbacks[query]["text"]
    assert list_actions(db)[0].action.status == ActionStatus.PLANNED
    # A safety representative cannot change the status either.
    query = api.press(
        SAFETY_A, message, keys.button_signer().sign(f"as|{view.action.id}|d", SAFETY_A)
    )
    await api.wait_for(lambda: query in api.answered_callbacks)
    assert list_actions(db)[0].action.status == ActionStatus.PLANNED


def _results(api, chat: int) -> list[str]:
    return [t for t in api.texts(chat) if t.startswith("<b>Results of")]


async def test_workers_get_their_groups_results_once_after_the_delay(
    bot, tree, db, settings
) -> None:
    api = bot
    await record_through_the_bot(api, title="Case load review every month")
    api.send_text(MANAGER_A, "/note Thank you all – we take this up on Tuesday.", language="en")
    await api.wait_for(lambda: "Your note goes to the workers" in (api.last(MANAGER_A).text or ""))
    with db.session() as session:  # the round closed longer ago than the delay
        survey_round = session.get(SurveyRound, tree["round"].id)
        survey_round.closed_at = datetime.now(UTC) - timedelta(
            hours=settings.results_delay_hours + 1
        )
    await run_tick(api.application)
    # The report after the close brings the same "record an action" button, for managers only.
    delivered = [m for m in api.messages[MANAGER_A] if "Record an action" in str(m.buttons())]
    assert len(delivered) == 2  # /report above, and the report after the close
    assert api.texts(SAFETY_A)
    assert not any(m.buttons() for m in api.messages[SAFETY_A])
    [summary] = _results(api, WORKER_A)
    assert "Team A" in summary
    assert "Thank you all – we take this up on Tuesday." in summary
    assert "Case load review every month (Team A)" in summary  # the new action
    # The audit of the worker summary: every figure in it is one the manager's report of the
    # same group shows (the response band is coarser than the report's count).
    report = next(t for t in api.texts(MANAGER_A) if t.startswith("<b>Staff Pulse – Team A"))
    figures = re.findall(r": ([\d–]+) \(higher", summary)
    assert figures
    for figure in figures:
        assert f"<b>{figure}</b>" in report
    await run_tick(api.application)
    assert len(_results(api, WORKER_A)) == 1  # once
    assert not _results(api, MANAGER_A)  # staff get reports, not worker summaries
    # Team B's workers get Team B's (or a wider group's) results, never a hidden group's.
    [other] = _results(api, WORKER_B)
    group = "Team B" if "Team B:" in other else "IFO"
    with db.session() as session:
        shown = {
            row.unit_id
            for row in session.exec(
                select(RoundStatistic).where(RoundStatistic.round_id == tree["round"].id)
            )
            if row.figures.get("shown")
        }
    assert (tree["b"] if group == "Team B" else tree["root"]).id in shown
    assert "Case load review" not in other  # Team A's action is Team A's


async def test_a_worker_turns_results_off(bot, tree, db, settings) -> None:
    api = bot
    api.send_text(WORKER_A, "/settings", language="en")
    await api.wait_for(lambda: api.texts(WORKER_A))
    setting = api.last(WORKER_A)
    api.press(WORKER_A, setting, button(setting, "No more summaries"), language="en")
    await api.wait_for(lambda: "No more results summaries" in (api.last(WORKER_A).text or ""))
    with db.session() as session:
        survey_round = session.get(SurveyRound, tree["round"].id)
        survey_round.closed_at = datetime.now(UTC) - timedelta(
            hours=settings.results_delay_hours + 1
        )
    await run_tick(api.application)
    assert _results(api, 801)  # the others still get them
    assert not _results(api, WORKER_A)


async def test_the_follow_up_question_is_asked_of_the_actions_unit_only(
    bot, tree, db, keys, settings
) -> None:
    api = bot
    today = datetime.now(UTC).date()
    action = record_action(
        db,
        unit_id=tree["a"].id,
        title="Mentoring",
        owner="Anna",
        due_on=today,
        today=today,
    )
    with db.session() as session:
        stored = session.get(Action, action.id)
        stored.status, stored.done_on = ActionStatus.DONE, today
        followups = followup_items(session, tree["root"].id, 8)
    items = lock_items([(tree["row"].id, tree["set"])], 1)
    items += [LockedItem.model_validate(item) for _, item in followups]
    now = datetime.now(UTC)
    open_round(
        db,
        keys,
        settings,
        unit_id=tree["root"].id,
        items=items,
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=3),
        question_set_versions=[tree["row"].id],
    )
    api.send_text(WORKER_A, "/checkin", language="en")
    api.send_text(WORKER_B, "/checkin", language="en")
    await api.wait_for(lambda: api.texts(WORKER_A) and api.texts(WORKER_B))
    total_a = re.search(r"of (\d+)", api.texts(WORKER_A)[0])
    total_b = re.search(r"of (\d+)", api.texts(WORKER_B)[0])
    assert total_a
    assert total_b
    assert int(total_a.group(1)) == int(total_b.group(1)) + 1
    message = api.last(WORKER_A)
    seen = []
    for _ in range(12):
        seen.append(message.text or "")
        if "made a difference" in (message.text or "") or not message.buttons():
            break
        before = message.text
        api.press(WORKER_A, message, message.buttons()[1][1], language="en")
        await api.wait_for_change(message, before)
    assert "Has “Mentoring” made a difference to your work situation?" in (message.text or "")
    assert [label for label, _ in message.buttons()][:5] == [
        "No difference",
        "A little",
        "Some",
        "Clearly",
        "A great difference",
    ]


async def test_a_request_to_talk_is_not_anonymous_goes_next_morning_and_can_be_answered(
    bot, tree, db, settings
) -> None:
    api = bot
    api.send_text(WORKER_B, "/talk", language="en")
    await api.wait_for(lambda: api.texts(WORKER_B))
    offer = api.last(WORKER_B)
    assert "NOT anonymous" in (offer.text or "")
    api.press(WORKER_B, offer, button(offer, "My manager"), language="en")
    await api.wait_for(lambda: "tomorrow morning" in (offer.text or ""))
    # Rate-limited: a second request within the cool-down is refused, and says until when.
    api.send_text(WORKER_B, "/talk", language="en")
    await api.wait_for(lambda: len(api.texts(WORKER_B)) == 2)
    again = api.last(WORKER_B)
    query = api.press(WORKER_B, again, button(again, "My manager"), language="en")
    await api.wait_for(lambda: query in api.answered_callbacks)
    assert "you can ask again from" in api.answered_callbacks[query]["text"]

    # What is stored: who and the day; no round, no answer, no time of day.
    with db.session() as session:
        [request] = session.exec(select(TalkRequest)).all()
    columns = {c["name"] for c in inspect(db.engine).get_columns("talk_request")}
    assert columns == {
        "id",
        "member_id",
        "recipient",
        "name_sealed",
        "requested_on",
        "delivered_on",
        "delivered_to",
        "delivery_confirmed",  # whether a delivery on its way was seen accepted
    }
    assert b"Test" not in request.name_sealed  # the name is encrypted

    await follow_up_actions(api.application, datetime.now(UTC))  # the same day: not yet
    assert not any("A request to talk" in t for t in api.texts(MANAGER_B))
    # The next morning where the organisation works (whatever the hour of the test run: just
    # before midnight UTC it is already tomorrow in Stockholm).
    tomorrow = settings.today(datetime.now(UTC)) + timedelta(days=1)
    morning = datetime.combine(
        tomorrow, time(settings.talk_delivery_hour + 1), tzinfo=ZoneInfo(settings.timezone)
    ).astimezone(UTC)
    await follow_up_actions(api.application, morning)
    [delivered] = [m for m in api.messages[MANAGER_B] if "A request to talk" in (m.text or "")]
    assert "Test would like to talk" in (delivered.text or "")
    assert not any("A request to talk" in t for t in api.texts(MANAGER_A))  # B's manager only
    api.press(MANAGER_B, delivered, button(delivered, "Reply"), language="en")
    await api.wait_for(lambda: "Write your reply" in (api.last(MANAGER_B).text or ""))
    api.send_text(MANAGER_B, "Of course – Thursday at 10?", language="en")
    await api.wait_for(lambda: "Your reply was sent." in (api.last(MANAGER_B).text or ""))
    assert "Of course – Thursday at 10?" in (api.last(WORKER_B).text or "")
    await follow_up_actions(api.application, morning)
    assert len([t for t in api.texts(MANAGER_B) if "A request to talk" in t]) == 1  # once


async def test_a_reply_written_after_a_restart_reaches_the_worker(tree, db, keys, settings) -> None:
    """The manager presses Reply, the bot restarts, then the manager writes: the reply goes
    to the worker (the wait lived in memory only: the text met "I only understand...")."""
    from local_bot_api import LocalBotApi
    from tests.bot.conftest import make_application, running

    tomorrow = settings.today(datetime.now(UTC)) + timedelta(days=1)
    morning = datetime.combine(
        tomorrow, time(settings.talk_delivery_hour + 1), tzinfo=ZoneInfo(settings.timezone)
    ).astimezone(UTC)
    async with LocalBotApi() as api:
        first = make_application(db, keys, settings, api)
        async with running(first):
            api.send_text(WORKER_B, "/talk", language="en")
            await api.wait_for(lambda: api.texts(WORKER_B))
            offer = api.last(WORKER_B)
            api.press(WORKER_B, offer, button(offer, "My manager"), language="en")
            await api.wait_for(lambda: "tomorrow morning" in (offer.text or ""))
            await follow_up_actions(first, morning)
            [delivered] = [m for m in api.messages[MANAGER_B] if m.buttons()]
            api.press(MANAGER_B, delivered, button(delivered, "Reply"), language="en")
            await api.wait_for(lambda: "Write your reply" in (api.last(MANAGER_B).text or ""))
        async with running(make_application(db, keys, settings, api)):  # the restart
            api.send_text(MANAGER_B, "Of course – Thursday at 10?", language="en")
            await api.wait_for(lambda: "Your reply was sent." in (api.last(MANAGER_B).text or ""))
        assert "Of course – Thursday at 10?" in (api.last(WORKER_B).text or "")
        # The first process may not have confirmed the Reply press before it stopped: the
        # restarted one gets it again, answering it is refused (it was answered), and the wait
        # for the reply is set up all the same. Nothing else was refused.
        assert {method for method, _ in api.bad_requests} <= {"answerCallbackQuery"}
        assert len(api.bad_requests) <= 1
    with db.session() as session:  # answered: nothing is kept waiting
        assert session.exec(select(PendingPrompt)).all() == []


async def test_recording_an_action_goes_on_after_a_restart(tree, db, keys, settings) -> None:
    """Every step of recording an action survives a restart: the area pressed after one (its
    choices lived in memory: "This button is out of date"), and the words typed after
    another."""
    from local_bot_api import LocalBotApi
    from tests.bot.conftest import make_application, running

    async with LocalBotApi() as api:
        async with running(make_application(db, keys, settings, api)):
            choose = await ask_for_the_area(api)
        async with running(make_application(db, keys, settings, api)):  # a restart
            api.press(MANAGER_A, choose, button(choose, "Support"), language="en")
            await api.wait_for(lambda: "What will be done?" in (choose.text or ""))
        async with running(make_application(db, keys, settings, api)):  # and another
            api.send_text(MANAGER_A, "Weekly case review", language="en")
            await api.wait_for(lambda: "Who owns it?" in (api.last(MANAGER_A).text or ""))
            api.send_text(MANAGER_A, "Unit manager", language="en")
            await api.wait_for(lambda: "By when?" in (api.last(MANAGER_A).text or ""))
            due = api.last(MANAGER_A)
            api.press(MANAGER_A, due, due.buttons()[1][1], language="en")
            await api.wait_for(lambda: "Recorded:" in (api.last(MANAGER_A).text or ""))
    [view] = list_actions(db)
    assert (view.action.title, view.action.construct_key) == ("Weekly case review", "support")
    assert view.action.unit_id == tree["a"].id


async def test_an_overdue_action_is_reminded_once(bot, tree, db) -> None:
    api = bot
    await record_through_the_bot(api)
    [view] = list_actions(db)
    later = datetime.combine(view.action.due_on, datetime.min.time(), UTC) + timedelta(days=2)
    await follow_up_actions(api.application, later)
    await follow_up_actions(api.application, later + timedelta(days=1))
    reminders = [t for t in api.texts(MANAGER_A) if "An action is overdue" in t]
    assert len(reminders) == 1
    assert "A mentor for every new social worker" in reminders[0]


async def test_an_overdue_reminder_reaches_each_manager_once_whatever_fails(
    bot, tree, db, keys, monkeypatch
) -> None:
    """A unit with two managers (the one who recorded the action has left): Telegram answers
    502 for the first; the next tick reminds that manager alone, and nobody gets it twice (one
    flag for both used to leave the first without a reminder)."""
    import bot.one_message as one_message

    monkeypatch.setattr(one_message, "NETWORK_RETRIES", 0)  # fail at once, not after backoff
    second = 7_700_000_001
    enrol_member(
        db,
        keys,
        telegram_user_id=second,
        chat_id=second,
        unit_id=tree["a"].id,
        role=Role.MANAGER,
        language="en",
    )
    today = datetime.now(UTC).date()
    record_action(
        db,
        unit_id=tree["a"].id,
        title="Weekly case review",
        owner="Team A",
        due_on=today - timedelta(days=2),
        today=today - timedelta(days=10),
    )
    api = bot
    api.fail("sendMessage", 502, "Bad Gateway", times=1)
    later = datetime.now(UTC) + timedelta(days=1)
    await follow_up_actions(api.application, later)
    reminded = {
        user: [t for t in api.texts(user) if "An action is overdue" in t]
        for user in (MANAGER_A, second)
    }
    assert sorted(len(texts) for texts in reminded.values()) == [0, 1]  # one failed
    await follow_up_actions(api.application, later + timedelta(hours=1))
    await follow_up_actions(api.application, later + timedelta(hours=2))
    for user in (MANAGER_A, second):
        assert len([t for t in api.texts(user) if "An action is overdue" in t]) == 1, user


async def test_a_too_long_description_is_asked_for_again(bot, tree, db) -> None:
    api = bot
    api.send_text(MANAGER_A, "/report", language="en")
    await api.wait_for(lambda: any(m.buttons() for m in api.messages[MANAGER_A]))
    report = next(m for m in api.messages[MANAGER_A] if m.buttons())
    api.press(MANAGER_A, report, button(report, "Record an action"), language="en")
    await api.wait_for(lambda: "Which area" in (api.last(MANAGER_A).text or ""))
    choose = api.last(MANAGER_A)
    api.press(MANAGER_A, choose, button(choose, "Something else"), language="en")
    await api.wait_for(lambda: "What will be done?" in (choose.text or ""))
    api.send_text(MANAGER_A, "x" * 201, language="en")
    await api.wait_for(lambda: "At most 200 characters" in (api.last(MANAGER_A).text or ""))
    assert api.last(MANAGER_A).text == "The description is too long. At most 200 characters."
    api.send_text(MANAGER_A, "Shorter case reviews", language="en")  # the prompt stays
    await api.wait_for(lambda: "Who owns it?" in (api.last(MANAGER_A).text or ""))
    assert list_actions(db) == []  # nothing is stored before the last step
