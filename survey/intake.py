"""Group commit for check-ins arriving at the same moment (a broadcast makes them bunch up).

A commit, with its fsync, costs more than sealing an answer. When many workers press "send" at
once, each caller still waits until its own answer is durably committed (so "thanks" is never
said early), but callers that arrive together share one transaction. Nobody waits for a timer:
the first caller to find no batch in progress writes everything queued, in a worker thread so the
event loop keeps serving Telegram meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from survey.crypto import KeyRing
from survey.storage import Database
from survey.submissions import SubmissionError, SubmissionRequest, submit_many


@dataclass
class _Ticket:
    request: SubmissionRequest
    now: datetime | None
    outcome: asyncio.Future[SubmissionError | None]


class SubmissionIntake:
    """The asyncio front of ``submit_many``: one per process and event loop (the bot's)."""

    def __init__(self, db: Database, keys: KeyRing, max_batch: int = 256) -> None:
        self._db = db
        self._keys = keys
        self._max_batch = max_batch
        self._queue: list[_Ticket] = []
        self._writing = False

    async def submit(
        self, *, member_id: int, round_id: int, answers: object, now: datetime | None = None
    ) -> None:
        """Return once the answer is committed; raise ``SubmissionError`` if it was refused."""
        future: asyncio.Future[SubmissionError | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append(_Ticket(SubmissionRequest(member_id, round_id, answers), now, future))
        if not self._writing:
            self._writing = True
            try:
                await self._write_until_empty()
            finally:
                self._writing = False
        outcome = await future
        if outcome is not None:
            raise outcome

    async def _write_until_empty(self) -> None:
        while self._queue:
            # Let every caller that is ready run first, so that what they send joins this batch.
            await asyncio.sleep(0)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            # Callers that passed their own clock (tests, replays) are written per clock value.
            groups: dict[datetime | None, list[_Ticket]] = {}
            for ticket in batch:
                groups.setdefault(ticket.now, []).append(ticket)
            for now, tickets in groups.items():
                requests = [t.request for t in tickets]
                try:
                    outcomes = await asyncio.to_thread(
                        submit_many, self._db, self._keys, requests, now=now
                    )
                except Exception as exc:  # e.g. the database is down: every waiting caller hears it
                    for ticket in tickets:
                        ticket.outcome.set_exception(exc)
                    continue
                for ticket, outcome in zip(tickets, outcomes, strict=True):
                    ticket.outcome.set_result(outcome)
