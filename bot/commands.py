"""The command menu (setMyCommands) in Swedish and English. Optional: a Bot API server without
the method gets logged, and the bot runs on."""

from __future__ import annotations

import logging

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import Application

from survey.i18n import Texts

log = logging.getLogger(__name__)


def worker_commands(language: str) -> list[BotCommand]:
    t = Texts(language)
    return [
        BotCommand("checkin", t._("answer the open check-in")),
        BotCommand("privacy", t._("what is stored and who sees what")),
        BotCommand("language", t._("Swedish or English")),
        BotCommand("pause", t._("no check-ins for now")),
        BotCommand("resume", t._("check-ins again")),
        BotCommand("leave", t._("leave Staff Pulse")),
        BotCommand("help", t._("what this bot does")),
    ]


async def set_commands(application: Application) -> None:  # type: ignore[type-arg]
    for language in ("sv", "en"):
        try:
            await application.bot.set_my_commands(worker_commands(language), language_code=language)
        except TelegramError as exc:
            log.warning(
                "setMyCommands is not available here (%s); continuing without a menu",
                type(exc).__name__,
            )
            return
