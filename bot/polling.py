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

from bot.one_message import seconds_of
from bot.shared import App

log = logging.getLogger(__name__)


class ConfirmAfterHandling:
    """Long polling in which an update is confirmed to Telegram only after its handler finished.

    Handling is pipelined: new updates are fetched while earlier ones are still being handled,
    and the offset (which confirms everything below it) only ever moves past updates whose
    handlers are done, so one slow handler delays nobody else and a crash loses nothing.
    Updates already being handled, which Telegram repeats until confirmed, are recognised by
    their id. Fairness: one chat's updates are handled one after the other, and a chat with
    more than ``per_chat`` updates in flight (a flood) has the extra ones dropped, so that it
    can neither hold up other people nor keep the offset from moving.
    """

    def __init__(
        self,
        application: App,
        timeout: float = 10,
        limit: int = 100,
        backoff: float = 1.0,
        per_chat: int = 5,
    ) -> None:
        self.application = application
        self.timeout = timeout
        self.limit = limit
        self.backoff = backoff
        self.per_chat = per_chat
        self.offset: int | None = None
        self.dropped = 0
        self._work: dict[int, asyncio.Future[None]] = {}  # update id -> its handling
        self._in_flight: dict[int, int] = {}  # chat -> updates being handled
        self._locks: dict[int, asyncio.Lock] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a token Telegram rejects ends it with that error."""
        await self.application.bot.delete_webhook(drop_pending_updates=False)
        delay = self.backoff
        try:
            while not stop.is_set():
                busy = any(not work.done() for work in self._work.values())
                try:
                    updates = await self.application.bot.get_updates(
                        offset=self.offset,
                        timeout=0 if busy else self.timeout,
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
                fresh = [u for u in updates if u.update_id not in self._work]
                for update in fresh:
                    self._start(update)
                self._advance()
                pending = [work for work in self._work.values() if not work.done()]
                if pending and not fresh:
                    await asyncio.wait(pending, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    self._advance()
        finally:
            pending = [work for work in self._work.values() if not work.done()]
            if pending and stop.is_set():  # a clean stop lets running handlers finish
                await asyncio.wait(pending, timeout=10)
            for work in self._work.values():  # otherwise (cancelled): nothing more runs
                work.cancel()

    def _start(self, update: Update) -> None:
        chat = update.effective_chat.id if update.effective_chat else 0
        if self._in_flight.get(chat, 0) >= self.per_chat:
            self.dropped += 1
            log.warning("too many updates from one chat at once; an extra one was dropped")
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            self._work[update.update_id] = done
            return
        self._in_flight[chat] = self._in_flight.get(chat, 0) + 1
        self._work[update.update_id] = asyncio.ensure_future(self._handle(update, chat))

    def _advance(self) -> None:
        """Move the offset past every finished update up to the first unfinished one."""
        for update_id in sorted(self._work):
            if not self._work[update_id].done():
                break
            self._work.pop(update_id)
            self.offset = update_id + 1

    async def _handle(self, update: Update, chat: int) -> None:
        """One chat at a time, then through the application's update processor (its
        concurrency bound); handler errors go to the error handler."""
        lock = self._locks.setdefault(chat, asyncio.Lock())
        try:
            async with lock:
                processor = self.application.update_processor
                await processor.process_update(update, self.application.process_update(update))
        finally:
            self._in_flight[chat] -= 1
            if not self._in_flight[chat]:
                del self._in_flight[chat]
                self._locks.pop(chat, None)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class WebhookServer:
    """A webhook that answers Telegram only after the update's handler finished, so a crash
    mid-handling leaves the update unanswered and Telegram delivers it again. Requests without
    Telegram's secret-token header (or with another) get 403 and change nothing."""

    def __init__(
        self,
        application: App,
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
        """Serve the webhook on its own address (no other web server runs)."""
        app = web.Application(client_max_size=1024 * 1024)
        self.attach(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        if public_url is not None:
            await self.register(public_url)

    def attach(self, app: web.Application) -> None:
        """Serve the webhook from another aiohttp application (the web server of the pages),
        so that one server and one proxy route take both."""
        app.router.add_post(self.path, self._receive)

    async def register(self, public_url: str) -> None:
        """Tell Telegram where to post updates, with the secret it must send."""
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
