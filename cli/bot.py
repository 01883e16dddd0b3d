"""`pulse run`: the Telegram bot, by long polling or behind a webhook."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from telegram.ext import Application

from bot.app import Services, build_application
from bot.commands import set_commands
from bot.polling import ConfirmAfterHandling, WebhookServer
from bot.scheduler import schedule_ticks
from bot.settings import BotSettings
from cli.common import clear_errors, console
from survey.installation import key_ring
from survey.intake import SubmissionIntake
from survey.settings import SurveySettings
from survey.storage import Database


def run(
    webhook: Annotated[bool, typer.Option(help="Serve a webhook instead of long polling.")] = False,
) -> None:
    """Run the bot: check-ins, reminders, round closes and reports, until stopped (Ctrl-C)."""
    with clear_errors():
        settings = SurveySettings()
        bot_settings = BotSettings()
        db = Database.from_settings(settings)
        db.ping()
        keys = key_ring(settings)
        keys.active_report_key()  # fail now, not at the first answer, if keys are missing
        services = Services(db, keys, settings, SubmissionIntake(db, keys))
        application = build_application(bot_settings, services)
        if webhook and (bot_settings.webhook_url is None or bot_settings.webhook_secret is None):
            raise ValueError("webhook mode needs PULSE_WEBHOOK_URL and PULSE_WEBHOOK_SECRET")
    application.post_init = set_commands
    schedule_ticks(application, bot_settings.tick_seconds)
    if not webhook:
        console.print("Staff Pulse bot running (long polling). Ctrl-C stops it.")
        asyncio.run(_poll(application))
        return
    console.print(
        f"Staff Pulse bot running (webhook on {bot_settings.webhook_listen}:"
        f"{bot_settings.webhook_port}). Ctrl-C stops it."
    )
    asyncio.run(
        _serve_webhook(
            application,
            WebhookServer(
                application,
                bot_settings.webhook_secret.get_secret_value(),  # type: ignore[union-attr]
                listen=bot_settings.webhook_listen,
                port=bot_settings.webhook_port,
            ),
            bot_settings.webhook_url,  # type: ignore[arg-type]
        )
    )


async def _poll(application: Application) -> None:  # type: ignore[type-arg]
    """Like python-telegram-bot's run_polling, but an update is confirmed to Telegram only after
    its handler finished (bot/polling.py), so a crash loses no button press."""
    stop = _stop_on_signals()
    async with application:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            await ConfirmAfterHandling(application).run(stop)
        finally:
            await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


async def _serve_webhook(application: Application, server: WebhookServer, url: str) -> None:  # type: ignore[type-arg]
    """Like run_webhook, but Telegram gets its answer only after the handler finished."""
    stop = _stop_on_signals()
    async with application:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        await server.start(url)
        try:
            await stop.wait()
        finally:
            await server.stop()
            await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    return stop
