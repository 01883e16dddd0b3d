"""Group commit: writes that arrive at the same moment share one transaction.

A commit, with its fsync, costs more than the small write it makes durable. Each caller still
waits until its own item is committed (so nobody is told "done" early), but callers that arrive
together are written in one go. Nobody waits for a timer: the first caller to find no batch in
progress starts a writer that writes everything queued, in a worker thread so the event loop
keeps serving meanwhile. The writer is a task of its own: a caller that is cancelled while it
waits (a shutdown, a timeout) stops waiting, but never stops the writing for the others, and a
result for a caller who left is dropped instead of breaking the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Ticket(Generic[T, R]):
    item: T
    outcome: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    """``await put(item)`` returns that item's result of ``write(batch)``; one per event loop."""

    def __init__(self, write: Callable[[list[T]], list[R]], max_batch: int = 256) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[_Ticket[T, R]] = []
        self._writer: asyncio.Task[None] | None = None

    async def put(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append(_Ticket(item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_until_empty())
        return await future

    async def _write_until_empty(self) -> None:
        while self._queue:
            # Let every caller that is ready run first, so that what they send joins this batch.
            await asyncio.sleep(0)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                results = await asyncio.to_thread(self._write, [t.item for t in batch])
            except Exception as exc:  # e.g. the database is down: every waiting caller hears it
                for ticket in batch:
                    if not ticket.outcome.done():
                        ticket.outcome.set_exception(exc)
                continue
            for ticket, result in zip(batch, results, strict=True):
                if not ticket.outcome.done():  # a caller that was cancelled meanwhile
                    ticket.outcome.set_result(result)
