"""The command menu (setMyCommands) per language and per role. Optional: a Bot API server
without the method gets logged, and the bot runs on."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.context import services_from
from bot.shared import App
from survey.deliveries import staff_chats
from survey.i18n import Texts
from survey.storage.models import Role

log = logging.getLogger(__name__)


def worker_commands(language: str) -> list[BotCommand]:
    t = Texts(language)
    return [
        BotCommand("checkin", t._("answer the open check-in")),
        BotCommand("talk", t._("ask to talk about your work situation")),
        BotCommand("settings", t._("results summaries on or off")),
        BotCommand("privacy", t._("what is stored and who sees what")),
        BotCommand("language", t._("Swedish or English")),
        BotCommand("pause", t._("no check-ins for now")),
        BotCommand("resume", t._("check-ins again")),
        BotCommand("leave", t._("leave Staff Pulse")),
        BotCommand("help", t._("what this bot does")),
    ]


def staff_commands(language: str, role: Role) -> list[BotCommand]:
    t = Texts(language)
    commands = [
        BotCommand("report", t._("results of your units")),
        BotCommand("trend", t._("indices over time, as a chart")),
        BotCommand("units", t._("your units")),
        BotCommand("actions", t._("actions and their follow-up")),
        BotCommand("dashboard", t._("the dashboard: results and actions on a page")),
    ]
    if role in (Role.MANAGER, Role.ADMIN):
        commands.append(BotCommand("note", t._("a note to your workers with their results")))
    if role == Role.ADMIN:
        commands += [
            BotCommand("invite", t._("invite link: /invite <unit> <role>")),
            BotCommand("rounds", t._("schedules and response rates")),
        ]
    return [*commands, BotCommand("help", t._("what this bot does"))]


async def set_commands(application: App) -> None:
    """Workers' menu for everyone (per language); managers' and admins' in their own chats."""
    try:
        for language in ("sv", "en"):
            await application.bot.set_my_commands(worker_commands(language), language_code=language)
        services = services_from(application)
        for chat_id, language, role in await asyncio.to_thread(
            staff_chats, services.db, services.keys
        ):
            await set_staff_commands(application, chat_id, language, role)
    except TelegramError as exc:
        log.warning(
            "setMyCommands is not available here (%s); continuing without a menu",
            type(exc).__name__,
        )


async def set_staff_commands(
    application: App,
    chat_id: int,
    language: str,
    role: Role,
) -> None:
    await application.bot.set_my_commands(
        staff_commands(language, role), scope=BotCommandScopeChat(chat_id)
    )
