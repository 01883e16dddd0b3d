"""`pulse run`: the Telegram bot, by long polling or behind a webhook."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import OPERATOR_ERROR, clear_errors, console, err, require_existing_sqlite

if TYPE_CHECKING:
    import asyncio

    from telegram.ext import Application

    from bot.context import CheckinPage, Services
    from bot.polling import WebhookServer
    from bot.settings import BotSettings
    from survey.storage import Database
    from web.server import WebServer
    from web.settings import WebSettings

#: Waits between attempts to reach the Bot API at start: doubling from 1 s up to 5 minutes.
FIRST_WAIT = 1.0
LONGEST_WAIT = 300.0


def run(
    webhook: Annotated[bool, typer.Option(help="Serve a webhook instead of long polling.")] = False,
) -> None:
    """Run the bot: check-ins, reminders, round closes and reports, until stopped (Ctrl-C).
    With PULSE_PUBLIC_URL, the check-in page is served from the same process and loop."""
    import asyncio

    from bot.app import Services, build_application
    from bot.commands import set_commands
    from bot.polling import WebhookServer
    from bot.scheduler import schedule_ticks
    from bot.settings import BotSettings
    from survey.installation import key_ring
    from survey.intake import SubmissionIntake
    from survey.settings import SurveySettings
    from survey.storage import Database
    from web.settings import WebSettings

    with clear_errors():
        settings = SurveySettings()
        bot_settings = BotSettings()
        web_settings = WebSettings()
        require_existing_sqlite(settings.resolved_database_url)  # never create one here
        db = Database.from_settings(settings)
        db.ping()
        _require_current_schema(db)
        keys = key_ring(settings)
        keys.active_report_key()  # fail now, not at the first answer, if keys are missing
        intake = SubmissionIntake(db, keys)  # one intake: the chat's Send and the page's
        services = Services(
            db,
            keys,
            settings,
            intake,
            checkin_page=_checkin_page(web_settings),
            public_url=web_settings.public_url,
            login_link_minutes=web_settings.login_link_minutes,
        )
        application = build_application(bot_settings, services)
        if webhook and (bot_settings.webhook_url is None or bot_settings.webhook_secret is None):
            raise ValueError("webhook mode needs PULSE_WEBHOOK_URL and PULSE_WEBHOOK_SECRET")
        pages = _web_server(services, bot_settings, web_settings)
    application.post_init = set_commands
    schedule_ticks(application, bot_settings.tick_seconds)
    hook = None
    if webhook:
        secret = bot_settings.webhook_secret
        assert secret is not None, "checked above"
        hook = WebhookServer(
            application,
            secret.get_secret_value(),
            listen=bot_settings.webhook_listen,
            port=bot_settings.webhook_port,
        )
    asyncio.run(_serve(application, hook, bot_settings.webhook_url, pages))


def _checkin_page(web_settings: WebSettings) -> CheckinPage | None:
    """Where the check-in page is, for the bot's web_app buttons; None without a public URL."""
    from bot.context import CheckinPage
    from web.server import checkin_address

    public = web_settings.public_url
    if public is None:
        return None
    return CheckinPage(
        url=lambda round_id, language: checkin_address(public, round_id, language),
        default=web_settings.checkin_channel,
    )


def _web_server(
    services: Services, bot_settings: BotSettings, web_settings: WebSettings
) -> WebServer | None:
    """The pages' server, sharing the bot's database, keys and intake; None without a public
    URL (workers then answer with the chat's buttons)."""
    from web.checkin import CheckinDesk
    from web.dashboard import DashboardDesk
    from web.server import WebServer, build_web_app

    if web_settings.public_url is None:
        return None
    if bot_settings.bot_token is None:
        raise ValueError("the check-in page needs PULSE_BOT_TOKEN to check Telegram's signature")
    desk = CheckinDesk(
        services.db,
        services.keys,
        services.intake,
        bot_settings.bot_token.get_secret_value().strip(),
        web_settings,
        language=services.settings.language,
    )
    dashboard = DashboardDesk(
        services.db,
        services.keys,
        web_settings,
        services.settings,
        bot_settings.bot_token.get_secret_value().strip(),
    )
    return WebServer(
        build_web_app(desk, dashboard), web_settings.listen_host, web_settings.listen_port
    )


def _require_current_schema(db: Database) -> None:
    """A bot on an older schema fails at its first query; an operator learns it now instead."""
    from survey.storage import current_revision, head_revision

    current, head = current_revision(db.engine), head_revision()
    if current != head:
        raise ValueError(
            f"the database schema is at {current or 'nothing (run `pulse init`)'}, this version "
            f"needs {head}: run `pulse migrate` first"
        )


async def _serve(
    application: Application,
    hook: WebhookServer | None,
    webhook_url: str | None,
    pages: WebServer | None,
) -> None:
    """Serve until a signal: updates by long polling, where an update is confirmed to Telegram
    only after its handler finished (bot/polling.py), or by webhook, answered only after the
    handler finished; and the pages, if any. In webhook mode with pages, one server takes both
    (the webhook at /telegram on PULSE_WEB_LISTEN)."""
    from bot.polling import ConfirmAfterHandling

    how = "long polling" if hook is None else "webhook"
    if pages is not None:
        how += f", check-in page on {pages.host}:{pages.port}"
    elif hook is not None:
        how += f" on {hook.listen}:{hook.port}"
    async with _running(application, how) as stop:
        if stop is None:
            return
        if pages is not None:
            if hook is not None:
                hook.attach(pages.app)
            await pages.start()
        try:
            if hook is None:
                await ConfirmAfterHandling(application).run(stop)
                return
            if pages is None:
                await hook.start(webhook_url)
            elif webhook_url is not None:
                await hook.register(webhook_url)
            await stop.wait()
        finally:
            if hook is not None:
                await hook.stop()
            if pages is not None:
                await pages.stop()


@contextlib.asynccontextmanager
async def _running(application: Application, how: str) -> AsyncIterator[asyncio.Event | None]:
    """The application started (once Telegram is reached) and stopped cleanly around a serving
    loop; yields the event that a signal sets, or None when stopped before Telegram answered.
    "Running" is said only once Telegram has answered getMe (``how``: polling or webhook)."""
    stop = _stop_on_signals()
    if not await _reach_telegram(application, stop):
        yield None
        return
    async with application:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        console.print(f"Staff Pulse bot running ({how}). Ctrl-C stops it.")
        try:
            yield stop
        finally:
            await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


def _stop_on_signals() -> asyncio.Event:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    return stop


async def _reach_telegram(application: Application, stop: asyncio.Event) -> bool:
    """Meet the Bot API before starting (getMe). A network that is down at boot, or a Bot API
    server that starts after us, is waited for with backoff, saying so; a rejected token is an
    operator's mistake: one line (never the token) and exit code 2. False when stopped first."""
    import asyncio

    from telegram.error import InvalidToken, NetworkError

    wait = FIRST_WAIT
    while not stop.is_set():
        try:
            await application.initialize()
            return True
        except InvalidToken as exc:
            err.print(
                "[red]Error:[/red] the Bot API rejected PULSE_BOT_TOKEN: copy the token again "
                "from @BotFather (it is not printed here)",
                highlight=False,
            )
            raise typer.Exit(OPERATOR_ERROR) from exc
        except NetworkError as exc:
            err.print(
                f"Telegram's Bot API is not reachable ({_reason(exc)}); trying again in "
                f"{wait:.0f} s. Ctrl-C stops.",
                highlight=False,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        wait = min(wait * 2, LONGEST_WAIT)
    return False


def _reason(exc: Exception) -> str:
    """What went wrong, without the URL (which holds the token)."""
    cause = exc.__cause__ or exc
    return type(cause).__name__
