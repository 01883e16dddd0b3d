"""What the whole application shares between updates: python-telegram-bot's ``bot_data``, typed.

The library builds ``BotData()`` empty when the application is built; ``build_application``
then gives it the survey services. Handlers take a ``Context`` and functions that work on the
whole application an ``App``, so that mypy sees every use of what is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from bot.checkin import ItemView
    from bot.context import Services
    from bot.outbox import Outbox
    from survey.questions.model import QuestionSet
    from survey.storage.leader import LeaderLock


@dataclass
class BotData:
    #: The survey side (database, keys, settings, intake, clock): set by build_application.
    services: Services | None = None
    #: The scheduler's lock (bot.scheduler), from the first tick on.
    leader: LeaderLock | None = None
    #: The scheduler's way to send (bot.outbox), from the first send on.
    outbox: Outbox | None = None
    #: The lead term whose left-open messages this process has taken over (0: none yet).
    taken_over_term: int = 0
    #: Question sets an admin uploaded and has not activated yet, by the upload's digest.
    uploads: dict[str, QuestionSet] = field(default_factory=dict)
    #: A round's questions per (round, language): locked when it opens, so never stale.
    round_views: dict[tuple[int, str], list[ItemView]] = field(default_factory=dict)
    #: Group chats already told that the bot works in private chats only.
    refused_chats: set[int] = field(default_factory=set)
    #: The polling loop (bot.polling), for tests to look into.
    polling: Any = None


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
#: The application as functions that reach the whole of it see it: its shared data typed.
App = Application[Any, Any, Any, Any, BotData, Any]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
