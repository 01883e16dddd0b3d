"""The asyncio front of ``submit_many`` for the bot: check-ins pressed at the same moment (a
broadcast makes them bunch up) share one transaction, and each caller is told the outcome of
its own check-in only once it is committed, so "thanks" is never said early."""

from __future__ import annotations

from datetime import datetime

from survey.crypto import KeyRing
from survey.group_commit import GroupCommit
from survey.storage import Database
from survey.submissions import SubmissionError, SubmissionRequest, submit_many

_Item = tuple[SubmissionRequest, datetime | None]


class SubmissionIntake:
    """One per process and event loop (the bot's)."""

    def __init__(self, db: Database, keys: KeyRing, max_batch: int = 256) -> None:
        self._db = db
        self._keys = keys
        self._commit: GroupCommit[_Item, SubmissionError | None] = GroupCommit(
            self._write, max_batch
        )

    async def submit(
        self, *, member_id: int, round_id: int, answers: object, now: datetime | None = None
    ) -> None:
        """Return once the answer is committed; raise ``SubmissionError`` if it was refused."""
        outcome = await self._commit.put((SubmissionRequest(member_id, round_id, answers), now))
        if outcome is not None:
            raise outcome

    def _write(self, items: list[_Item]) -> list[SubmissionError | None]:
        # Callers that passed their own clock (tests, replays) are written per clock value.
        outcomes: list[SubmissionError | None] = [None] * len(items)
        by_clock: dict[datetime | None, list[int]] = {}
        for position, (_, now) in enumerate(items):
            by_clock.setdefault(now, []).append(position)
        for now, positions in by_clock.items():
            results = submit_many(self._db, self._keys, [items[p][0] for p in positions], now=now)
            for position, result in zip(positions, results, strict=True):
                outcomes[position] = result
        return outcomes
