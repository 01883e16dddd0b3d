"""What every handler needs: the survey services, the member behind an update, signed buttons."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from telegram import CallbackQuery, Chat, Update, User

from bot.buttons import Button
from bot.buttons import data as button_data
from bot.checkin import CheckinState, ItemView
from bot.shared import App, BotData, Context
from survey.checkin_form import asked_of, round_form
from survey.crypto import KeyRing
from survey.enrolment import find_member
from survey.i18n import Texts
from survey.intake import SubmissionIntake
from survey.lifecycle import Press
from survey.settings import SUPPORTED_LANGUAGES, SurveySettings
from survey.storage import Database
from survey.storage.models import CheckinChannel, Member, SurveyRound


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CheckinPage:
    """The check-in as a Mini App page served by our own server (web/), where configured
    (``PULSE_PUBLIC_URL``): its address per round and language, and where workers who did not
    choose answer (``PULSE_CHECKIN_CHANNEL``)."""

    url: Callable[[int, str], str]
    default: CheckinChannel = CheckinChannel.WEBAPP

    def for_worker(
        self, round_id: int, language: str, chosen: CheckinChannel | str | None
    ) -> str | None:
        """The page's address for a worker who answers there; None for the chat's buttons."""
        channel = CheckinChannel(chosen) if chosen else self.default
        return self.url(round_id, language) if channel == CheckinChannel.WEBAPP else None


@dataclass
class Services:
    db: Database
    keys: KeyRing
    settings: SurveySettings
    intake: SubmissionIntake
    #: What time it is for the survey rules. Real time, except in `pulse demo`, which lets
    #: twelve weeks pass in a minute through the very same code.
    clock: Callable[[], datetime] = field(default=_now)
    #: Which answers a group's cap leaves out at close: the system's cryptographic generator
    #: (None), except in `pulse demo`, whose seed makes every figure the same run after run.
    chance: random.Random | None = None
    #: The Mini App check-in page; None where no public address is configured (chat buttons).
    checkin_page: CheckinPage | None = None
    #: The public HTTPS address of the pages (the dashboard too); None where there is none.
    public_url: str | None = None
    #: How long a dashboard login link works.
    login_link_minutes: int = 10

    def page_for(
        self, round_id: int, language: str, chosen: CheckinChannel | str | None
    ) -> str | None:
        """Where a worker answers round ``round_id``: the page's address, or None for the chat."""
        if self.checkin_page is None:
            return None
        return self.checkin_page.for_worker(round_id, language, chosen)

    def answers_in_chat(self, chosen: CheckinChannel | str | None) -> bool:
        """Whether a worker who chose ``chosen`` answers with the chat's buttons (through
        Telegram) rather than on the page."""
        return self.page_for(0, "en", chosen) is None


@dataclass(frozen=True)
class Pressed:
    """A verified button press, read once and handed to its handler: the member (and round)
    behind it, their language, and for a check-in button its state and action."""

    press: Press
    t: Texts
    #: The check-in state and action, for a check-in button ("c1|...").
    checkin: tuple[CheckinState, str] | None = None


B = TypeVar("B", bound=Button)
#: What handles one kind of button: the press, the context, who pressed, and the decoded button.
ButtonHandler = Callable[[CallbackQuery, Context, Pressed, Any], Awaitable[None]]


def route(
    kind: type[B],
    handler: Callable[[CallbackQuery, Context, Pressed, B], Awaitable[None]],
) -> tuple[type[Button], ButtonHandler]:
    """One entry of the dispatch table, typed so that a handler gets the kind it expects."""
    return kind, handler


def chat_of(update: Update) -> Chat:
    """The chat of a command or button update (the handlers take no other kind, which have
    none)."""
    assert update.effective_chat is not None, "a command or button update has a chat"
    return update.effective_chat


def user_of(update: Update) -> User:
    """The person behind a command or button update."""
    assert update.effective_user is not None, "a command or button update has a user"
    return update.effective_user


def services_of(context: Context) -> Services:
    return services_from(context.application)


def services_from(application: App) -> Services:
    """The survey services (build_application sets them before anything runs)."""
    services = application.bot_data.services
    assert services is not None, "build_application gives the application its services"
    return services


def language_of(update: Update, member: Member | None, default: str) -> str:
    if member is not None:
        return member.language
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return code[:2] if code[:2] in SUPPORTED_LANGUAGES else default


async def member_of(context: Context, user_id: int) -> Member | None:
    services = services_of(context)
    return await asyncio.to_thread(find_member, services.db, services.keys, user_id)


def signed(context: Context, button: Button, user_id: int) -> str:
    """The callback data of ``button``, signed for ``user_id`` (bot.buttons)."""
    return button_data(button, services_of(context).keys.button_signer(), user_id)


async def views_for(
    bot_data: BotData, survey_round: SurveyRound, language: str, unit_id: int
) -> list[ItemView]:
    """A round's questions for a member of ``unit_id``, in ``language``, cached: a round's
    items are locked when it opens (P7), so they never change, and every button press needs
    them. A follow-up question is shown only to the units of its action."""
    cache = bot_data.round_views
    key = (survey_round.id, language)
    if key not in cache:
        services = bot_data.services
        assert services is not None, "build_application gives the application its services"
        cache[key] = await asyncio.to_thread(round_form, services.db, survey_round, language)
    return asked_of(cache[key], unit_id)
