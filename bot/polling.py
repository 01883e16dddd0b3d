"""Receiving updates so that Telegram learns an update was handled only once it was.

python-telegram-bot's own updater asks for the next batch (and so confirms the last one to
Telegram) as soon as it has queued it, before any handler ran: a crash then loses every press
being handled, a Send included. Here a batch is handled to the end first, and only then is the
next offset asked for, so an update interrupted by a crash comes again after the restart
(at-least-once). That is safe because handling is idempotent: a check-in is stored once per
member and round however often its Send arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging

from aiohttp import web
from telegram import Update
from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application

from bot.sender import seconds_of

log = logging.getLogger(__name__)


class ConfirmAfterHandling:
    """Fetch, handle a whole batch, then confirm it by asking for the next one."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        timeout: float = 10,
        limit: int = 100,
        backoff: float = 1.0,
    ) -> None:
        self.application = application
        self.timeout = timeout
        self.limit = limit
        self.backoff = backoff
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a token Telegram rejects ends it with that error."""
        await self.application.bot.delete_webhook(drop_pending_updates=False)
        delay = self.backoff
        while not stop.is_set():
            try:
                updates = await self.application.bot.get_updates(
                    offset=self.offset,
                    timeout=self.timeout,
                    limit=self.limit,
                    allowed_updates=Update.ALL_TYPES,
                )
            except (InvalidToken, Forbidden):
                raise
            except RetryAfter as exc:
                await asyncio.sleep(seconds_of(exc.retry_after))
                continue
            except NetworkError as exc:
                log.warning(
                    "cannot reach Telegram (%s); retrying in %.0f s", type(exc).__name__, delay
                )
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 60)
                continue
            delay = self.backoff
            if not updates:
                continue
            await asyncio.gather(*(self._handle(update) for update in updates))
            self.offset = updates[-1].update_id + 1

    async def _handle(self, update: Update) -> None:
        """Through the application's update processor, so its concurrency bound holds; handler
        errors go to the application's error handler and never stop the batch."""
        processor = self.application.update_processor
        await processor.process_update(update, self.application.process_update(update))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class WebhookServer:
    """A webhook that answers Telegram only after the update's handler finished, so a crash
    mid-handling leaves the update unanswered and Telegram delivers it again. Requests without
    Telegram's secret-token header (or with another) get 403 and change nothing."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        secret: str,
        listen: str = "127.0.0.1",
        port: int = 8443,
        path: str = "telegram",
    ) -> None:
        self.application = application
        self.secret = secret
        self.listen = listen
        self.port = port
        self.path = "/" + path.strip("/")
        self._runner: web.AppRunner | None = None

    async def start(self, public_url: str | None = None) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        if public_url is not None:
            await self.application.bot.set_webhook(
                public_url, secret_token=self.secret, allowed_updates=Update.ALL_TYPES
            )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        processor = self.application.update_processor
        await processor.process_update(update, self.application.process_update(update))
        return web.Response(status=200)
