"""At-least-once: a press being handled when the bot dies comes again after the restart.

The first bot process receives a burst of Send presses and dies before any of them is stored
(its intake hangs, then the process is cut off mid-handling, as kill -9 would). Telegram - here
the local Bot API server - was never told that those updates were handled, so the next process
gets them again and stores each check-in exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from sqlalchemy import func
from sqlmodel import select

from bot.polling import ConfirmAfterHandling
from local_bot_api import LocalBotApi
from survey.storage.models import PoolSubmission
from tests.bot.conftest import answer_every_question, make_application, running

USERS = [6_300_000_000 + i for i in range(4)]


class _DyingIntake:
    """An intake that never gets to commit: the process dies while the Send is handled."""

    def __init__(self) -> None:
        self.reached = 0

    async def submit(self, **_: object) -> None:
        self.reached += 1
        await asyncio.Event().wait()


def _stored(db) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(PoolSubmission)).one()


async def _to_summary(api: LocalBotApi, user: int, invite: str):
    api.send_text(user, f"/start {invite}", language="en")
    await api.wait_for(lambda: len(api.texts(user)) >= 2)
    api.send_text(user, "/checkin", language="en")
    await api.wait_for(lambda: "Question 1 of" in (api.last(user).text or ""))
    message = api.last(user)
    await answer_every_question(api, user, message)
    return message


async def test_presses_in_flight_at_a_crash_are_handled_after_the_restart(
    db, keys, settings, org
) -> None:
    async with LocalBotApi() as api:
        first = make_application(db, keys, settings, api)
        summaries = {}
        async with running(first):
            for user in USERS:
                summaries[user] = await _to_summary(api, user, org["invite"].token)

        # The first process again, now dying in the middle of the Send presses.
        dying = make_application(db, keys, settings, api)
        intake = _DyingIntake()
        dying.bot_data.services = dataclasses.replace(dying.bot_data.services, intake=intake)
        await dying.initialize()
        await dying.start()
        stop = asyncio.Event()
        poller = asyncio.create_task(ConfirmAfterHandling(dying, timeout=1).run(stop))
        for user, message in summaries.items():
            api.press(user, message, dict(message.buttons())["✓ Send"], language="en")
        await api.wait_for(lambda: intake.reached == len(USERS))
        poller.cancel()  # kill -9: nothing more runs in this process
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        assert _stored(db) == 0

        # The restart: the same presses arrive again and are stored, once each.
        async with running(make_application(db, keys, settings, api)):
            await api.wait_for(lambda: _stored(db) == len(USERS), timeout=10)
            await api.wait_for(lambda: all("Thank you" in (summaries[u].text or "") for u in USERS))
        assert _stored(db) == len(USERS)
        with contextlib.suppress(Exception):
            await dying.stop()
            await dying.shutdown()


async def test_a_flood_from_one_chat_does_not_hold_up_anyone_else(bot, org) -> None:
    """300 /help from one chat, then one from another: the other is answered, the flood is
    handled a few at a time and the rest dropped, and the offset moves on."""
    api = bot
    flooder, other = 6_400_000_001, 6_400_000_002
    for _ in range(300):
        api.send_text(flooder, "/help", language="en")
    api.send_text(other, "/help", language="en")
    await api.wait_for(lambda: api.texts(other), timeout=10)
    polling = api.application.bot_data.polling
    await api.wait_for(lambda: polling.dropped + len(api.texts(flooder)) == 300, timeout=10)
    assert polling.dropped > 250  # at most a few in flight per chat at any time
    assert api.texts(other)[0] == api.texts(flooder)[0]  # the same short help
