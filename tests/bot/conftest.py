"""Bot tests run the real python-telegram-bot against the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.app import Services, build_application
from bot.polling import ConfirmAfterHandling
from bot.settings import BotSettings
from local_bot_api import LocalBotApi
from survey.enrolment import create_unit
from survey.intake import SubmissionIntake
from survey.invites import create_invite
from survey.questions import import_question_set, load_question_set_file, load_version
from survey.questions.locked import lock_items
from survey.rounds import open_round
from survey.storage.models import Role
from tests.bot.loop_world import tree  # noqa: F401  # a fixture for the loop's tests

SETS = Path(__file__).resolve().parents[2] / "config" / "question_sets"


@asynccontextmanager
async def running(application: Application) -> AsyncIterator[Application]:
    """The application as `pulse run` runs it: started, polling with updates confirmed to the
    server only after their handlers finished."""
    async with application:
        await application.start()
        stop = asyncio.Event()
        polling = ConfirmAfterHandling(application, timeout=1)
        poller = asyncio.create_task(polling.run(stop))
        application.bot_data.polling = polling  # what tests look into
        try:
            yield application
        finally:
            stop.set()
            if not poller.done():
                poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await application.stop()
            # run_polling() would call post_shutdown, which lets go of the scheduler lead.
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


@pytest.fixture
def org(db, keys, settings):
    """A unit with the default set, a round open now (its first week) and an invite."""
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    row, question_set = load_version(db, "social-work-weekly")
    unit = create_unit(db, "Barn och unga")
    now = datetime.now(UTC)
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=unit.id,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
        question_set_versions=[row.id],
    )
    invite = create_invite(
        db, unit_id=unit.id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=50
    )
    return {"unit": unit, "invite": invite, "round": survey_round, "set": question_set}


def make_application(
    db, keys, settings, api: LocalBotApi, rate_limiter=None, **more: Any
) -> Application:
    """The real bot, wired to the local Bot API server (no rate limiter unless given: tests go
    fast); ``more``: more of bot.context.Services (the check-in page, the public URL)."""
    services = Services(db, keys, settings, SubmissionIntake(db, keys), **more)
    bot_settings = BotSettings(
        _env_file=None,
        bot_token=SecretStr(api.token),
        bot_api_url=api.base_url,
        bot_file_url=api.base_file_url,
    )
    return build_application(bot_settings, services, rate_limit=False, rate_limiter=rate_limiter)


@pytest.fixture
async def bot(db, keys, settings):
    async with LocalBotApi() as api:
        application = make_application(db, keys, settings, api)
        api.application = application  # type: ignore[attr-defined]  # for tests that tick
        async with running(application):
            yield api
        # Telegram would have refused these calls: each is a bug the user would have met.
        assert api.bad_requests == [], api.bad_requests


async def answer_every_question(api: LocalBotApi, user: int, message) -> list[str]:
    """Press the second option of each question until the summary; returns the data pressed."""
    pressed = []
    for _ in range(20):
        if not (message.text or "").startswith("Question"):
            break
        before = message.text
        pressed.append(message.buttons()[1][1])
        api.press(user, message, pressed[-1])
        await api.wait_for_change(message, before)
    return pressed
