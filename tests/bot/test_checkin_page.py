"""Where a public address is configured, the check-in opens as a Mini App page: the invitation,
the reminder and /checkin carry one web_app button and no answer buttons; /settings lets a
worker go back to the chat's buttons; /privacy says what Telegram still learns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select
from telegram.ext import Application

from bot.context import CheckinPage
from bot.scheduler import run_tick
from local_bot_api import LocalBotApi
from survey.enrolment import enrol_member
from survey.storage.models import CheckinChannel, Member
from tests.bot.conftest import make_application, running
from web.server import checkin_address

PUBLIC = "https://pulse.example.test"
USER = 5_223_456_789


def page_application(db, keys, settings, api: LocalBotApi, default: CheckinChannel) -> Application:
    page = CheckinPage(lambda r, lang: checkin_address(PUBLIC, r, lang), default)
    return make_application(db, keys, settings, api, checkin_page=page)


@pytest.fixture
async def page_bot(db, keys, settings) -> AsyncIterator[tuple[Application, LocalBotApi]]:
    async with LocalBotApi() as api:
        application = page_application(db, keys, settings, api, CheckinChannel.WEBAPP)
        async with running(application):
            yield application, api
        assert api.bad_requests == [], api.bad_requests


async def _join(api: LocalBotApi, org, user: int = USER) -> None:
    api.send_text(user, f"/start {org['invite'].token}", language="sv")
    await api.wait_for(lambda: len(api.texts(user)) >= 2)


def _opens_the_page(api: LocalBotApi, user: int, round_id: int) -> None:
    message = api.last(user)
    ((label, url),) = message.web_apps()
    assert label == "✎ Svara"
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "pulse.example.test", "/checkin")
    assert parse_qs(parts.query) == {"round": [str(round_id)], "lang": ["sv"]}
    # No answer button: nothing of an answer could pass through Telegram.
    assert all(data == "" for _, data in message.buttons())
    assert "Telegram ser dem aldrig" in (message.text or "")


async def test_checkin_opens_the_page_and_privacy_says_what_telegram_learns(page_bot, org) -> None:
    _, api = page_bot
    await _join(api, org)
    welcome = next(text for text in api.texts(USER) if "Välkommen" in text)
    assert "Telegram får veta att du öppnade den, när och hur länge" in welcome
    api.send_text(USER, "/checkin", language="sv")
    await api.wait_for(lambda: api.last(USER).web_apps())
    _opens_the_page(api, USER, org["round"].id)


async def test_invitations_open_the_page_unless_the_worker_chose_the_chat(
    page_bot, db, keys, org
) -> None:
    application, api = page_bot
    on_page, in_chat = 5_300_000_001, 5_300_000_002
    for user in (on_page, in_chat):
        enrol_member(db, keys, telegram_user_id=user, chat_id=user, unit_id=org["unit"].id)
    # The second worker chooses the chat's buttons in /settings.
    api.send_text(in_chat, "/settings", language="sv")
    await api.wait_for(lambda: any("sidan" in t for t in api.texts(in_chat)))
    offer = api.last(in_chat)
    ((label, data),) = offer.buttons()
    assert label == "Svara i chatten i stället"
    api.press(in_chat, offer, data)
    await api.wait_for(lambda: "så dina svar går via Telegram" in (offer.text or ""))
    assert [label for label, _ in offer.buttons()] == ["Svara på sidan"]
    with db.session() as session:
        channels = {m.checkin_channel for m in session.exec(select(Member)).all()}
    assert channels == {None, CheckinChannel.CHAT}

    await run_tick(application)
    _opens_the_page(api, on_page, org["round"].id)
    invitation = api.last(in_chat)
    assert invitation.web_apps() == []
    assert len(invitation.buttons()) >= 5  # the first question, answered in the chat
    api.send_text(in_chat, "/privacy", language="sv")
    await api.wait_for(lambda: "Telegram förmedlar" in api.texts(in_chat)[-1])


async def test_an_installation_that_defaults_to_the_chat_offers_the_page_in_settings(
    db, keys, settings, org
) -> None:
    async with LocalBotApi() as api:
        application = page_application(db, keys, settings, api, CheckinChannel.CHAT)
        async with running(application):
            await _join(api, org)
            api.send_text(USER, "/checkin", language="sv")
            await api.wait_for(
                lambda: api.last(USER).buttons() and "Fråga 1" in api.texts(USER)[-1]
            )
            assert api.last(USER).web_apps() == []
            api.send_text(USER, "/settings", language="sv")
            await api.wait_for(lambda: "Svara på sidan" in str(api.last(USER).buttons()))
            offer = api.last(USER)
            api.press(USER, offer, offer.buttons()[0][1])
            await api.wait_for(lambda: "Svara i chatten i stället" in str(offer.buttons()))
            api.send_text(USER, "/checkin", language="sv")
            await api.wait_for(lambda: api.last(USER).web_apps())
            _opens_the_page(api, USER, org["round"].id)
        assert api.bad_requests == []
