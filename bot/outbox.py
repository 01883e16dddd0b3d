"""The scheduler's one way to send: prove the lead, claim, send, then confirm or release.

survey.claims says what a claim means; this is the order of steps around each message:

1. After any wait in the rate limiter, the lead is proven and the claim written (bot.fencing;
   a group commit: claims that come together share one transaction). If this process no longer
   leads, if the message is someone else's, or if the claim cannot be written (a full disk, a
   database that is down), the request is not made.
2. The request goes to Telegram.
3. Accepted: an at-least-once claim is confirmed. Provably not delivered (refused, never
   left): the claim is released so that the next tick tries again.

A confirmation or release that cannot be written is kept and written on the next tick
(``settle``), so one failed write never turns into a duplicate or a loss while the process
lives, and never stops the rest of a batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardMarkup

from bot.context import services_from
from bot.fencing import NotClaimed, claimed_by, fenced_by
from bot.one_message import Outcome, send_text
from bot.shared import App
from survey.claims import AT_LEAST_ONCE, Claim, claim_many, confirm_many, release_many
from survey.deliveries import Recipient
from survey.group_commit import GroupCommit
from survey.storage import Database, DatabaseUnavailableError

log = logging.getLogger(__name__)

Part = tuple[str, InlineKeyboardMarkup | None]
#: What a write to a database that is down or full raises.
WRITE_ERRORS = (SQLAlchemyError, DatabaseUnavailableError)


class Outbox:
    """One per application (``outbox_of``): its group commits belong to the event loop."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._claims: GroupCommit[Claim, bool] = GroupCommit(lambda c: claim_many(db, c))
        self._confirms: GroupCommit[Claim, None] = GroupCommit(lambda c: confirm_many(db, c))
        self._to_confirm: set[Claim] = set()
        self._to_release: set[Claim] = set()
        self._unwritable = False

    async def send(
        self,
        application: App,
        claim: Claim,
        target: Recipient,
        parts: Sequence[Part],
        backoff: float = 1.0,
    ) -> Outcome:
        """Send ``parts`` (one message each) to ``target`` once, as ``claim``: "sent",
        "claimed" (someone else has it), "unreachable", "not leading" or "failed"."""
        won = False

        async def claim_it() -> None:
            nonlocal won
            if won:  # a retry of the same request, or the report's next part
                return
            try:
                won = await self._claims.put(claim)
            except WRITE_ERRORS as exc:
                self._cannot_write(exc)
                raise NotClaimed(recorded=False) from exc
            self._written()
            if not won:
                raise NotClaimed(recorded=True)

        outcome: Outcome = "sent"
        with fenced_by(application.bot_data.leader), claimed_by(claim_it):
            for text, keyboard in parts:
                outcome = await send_text(application, target, text, keyboard, backoff)
                if outcome != "sent":
                    break
        if not won:
            return outcome
        if outcome == "sent" and claim.kind in AT_LEAST_ONCE:
            await self._confirm(claim)
        elif outcome in ("failed", "not leading"):
            await self._release(claim)
        return outcome

    async def settle(self) -> None:
        """Write what an earlier tick could not (confirmations, releases)."""
        if self._to_confirm:
            claims = sorted(self._to_confirm, key=repr)
            try:
                await asyncio.to_thread(confirm_many, self._db, claims)
            except WRITE_ERRORS as exc:
                self._cannot_write(exc)
            else:
                self._to_confirm.difference_update(claims)
        if self._to_release:
            claims = sorted(self._to_release, key=repr)
            try:
                await asyncio.to_thread(release_many, self._db, claims)
            except WRITE_ERRORS as exc:
                self._cannot_write(exc)
            else:
                self._to_release.difference_update(claims)

    async def _confirm(self, claim: Claim) -> None:
        try:
            await self._confirms.put(claim)
        except WRITE_ERRORS as exc:
            self._cannot_write(exc)
            self._to_confirm.add(claim)

    async def _release(self, claim: Claim) -> None:
        try:
            await asyncio.to_thread(release_many, self._db, [claim])
        except WRITE_ERRORS as exc:
            self._cannot_write(exc)
            self._to_release.add(claim)

    def _cannot_write(self, exc: BaseException) -> None:
        """One line when writing starts to fail, not one per message."""
        if not self._unwritable:
            self._unwritable = True
            log.warning(
                "cannot record messages (%s): nothing more is sent until records can be written",
                type(exc).__name__,
            )

    def _written(self) -> None:
        if self._unwritable:
            self._unwritable = False
            log.warning("messages can be recorded again; sending resumes")


def outbox_of(application: App) -> Outbox:
    if application.bot_data.outbox is None:
        application.bot_data.outbox = Outbox(services_from(application).db)
    return application.bot_data.outbox
