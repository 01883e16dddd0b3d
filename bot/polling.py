"""Long polling that confirms an update to Telegram only after its handler finished.

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
import logging

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
