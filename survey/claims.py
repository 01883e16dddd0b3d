"""Every message the bot sends on its own is claimed before it leaves.

A claim is the record that a message goes to a member, written (and committed) *before* the
request to Telegram. So a message whose record cannot be written is never sent, and two
processes can never both send it: the claim is a row with a unique key, and whoever inserts it
sends. After the send:

- Telegram accepted (or may have: the reply was lost): the claim stands. Kinds sent at least
  once are *confirmed*.
- Telegram provably did not deliver (refused, or the connection never opened): the claim is
  *released* and the next tick tries again.

A claim whose outcome never came (a crash, a kill -9, a lost database while the message was on
its way) is read by kind (``AT_LEAST_ONCE``), when a process next wins the scheduler's lead:

- an invitation, a reminder, an overdue action's reminder: counted as sent. Sending again could
  give a member two; a missed invitation is covered by the reminder and /checkin, a missed
  overdue reminder by /actions.
- a report to a manager, a round's results to a worker, a request to talk: sent again. Nothing
  else brings them, so losing one costs more than a duplicate (docs/operations.md, "Every
  message once").

Delivery rows during an open round say who was reminded, that is who had not answered (P2):
a claim adds nothing to them (no time, no process), and they go when the round closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, and_, delete, or_, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel, col, select

from survey.storage import Database
from survey.storage.models import ActionReminder, Delivery, TalkRequest


class Kind(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    #: The report that goes to managers after a round closed.
    REPORT = "report"
    #: The results that go to every active worker of the round's units after it closed.
    RESULTS = "results"
    #: An overdue action's reminder to one of its managers.
    OVERDUE = "overdue"
    #: A worker's request to talk, to the staff member who receives it.
    TALK = "talk"


#: Kinds whose unconfirmed claims are sent again after a crash (the module docstring says why).
AT_LEAST_ONCE = frozenset({Kind.REPORT, Kind.RESULTS, Kind.TALK})
#: Kinds recorded in the ``delivery`` table, about a round.
ROUND_KINDS = frozenset({Kind.INVITATION, Kind.REMINDER, Kind.REPORT, Kind.RESULTS})


@dataclass(frozen=True)
class Claim:
    """One message to one member: ``subject`` is the round (round kinds), the action
    (OVERDUE) or the request (TALK); ``day`` is the delivery day a TALK claim records."""

    kind: Kind
    subject: int
    member_id: int
    day: date | None = None


def claim_many(db: Database, claims: list[Claim]) -> list[bool]:
    """Claim in one transaction; True where this caller got the claim (and must send), False
    where it was claimed already (by another process, or an earlier send)."""
    with db.transaction() as connection:
        won = _claim(connection, claims)
    given: list[bool] = []
    for claim in claims:  # the same claim twice in one batch: the first caller has it
        given.append(claim in won)
        won.discard(claim)
    return given


def confirm_many(db: Database, claims: list[Claim]) -> list[None]:
    """Telegram accepted: claims of at-least-once kinds are not sent again after a crash."""
    rounds = [c for c in claims if c.kind in ROUND_KINDS and c.kind in AT_LEAST_ONCE]
    talks = [c for c in claims if c.kind == Kind.TALK]
    with db.transaction() as connection:
        if rounds:
            connection.execute(
                update(Delivery)
                .where(_delivery_keys(rounds))
                .values(confirmed=True)
                .execution_options(synchronize_session=False)
            )
        for claim in talks:
            connection.execute(
                update(TalkRequest)
                .where(
                    col(TalkRequest.id) == claim.subject,
                    col(TalkRequest.delivered_to) == claim.member_id,
                )
                .values(delivery_confirmed=True)
            )
    return [None] * len(claims)


def release_many(db: Database, claims: Iterable[Claim]) -> None:
    """Telegram provably did not deliver: the next tick may claim and send again."""
    claims = list(claims)
    rounds = [c for c in claims if c.kind in ROUND_KINDS]
    overdue = [c for c in claims if c.kind == Kind.OVERDUE]
    talks = [c for c in claims if c.kind == Kind.TALK]
    with db.transaction() as connection:
        if rounds:
            connection.execute(delete(Delivery).where(_delivery_keys(rounds)))
        if overdue:
            connection.execute(
                delete(ActionReminder).where(
                    tuple_(col(ActionReminder.action_id), col(ActionReminder.member_id)).in_(
                        [(c.subject, c.member_id) for c in overdue]
                    )
                )
            )
        for claim in talks:
            connection.execute(
                update(TalkRequest)
                .where(
                    col(TalkRequest.id) == claim.subject,
                    col(TalkRequest.delivered_to) == claim.member_id,
                )
                .values(delivered_on=None, delivered_to=None, delivery_confirmed=True)
            )


def reopen_unconfirmed(db: Database) -> int:
    """A process has just won the lead: whatever an earlier leader claimed and never confirmed
    of the at-least-once kinds is sent again. Only the leader sends these, and a deposed one
    sends nothing more (fencing), so no claim undone here is still on its way."""
    with db.transaction() as connection:
        reports = connection.execute(
            delete(Delivery).where(
                col(Delivery.kind).in_(sorted(k.value for k in AT_LEAST_ONCE & ROUND_KINDS)),
                col(Delivery.confirmed).is_(False),
            )
        ).rowcount
        talks = connection.execute(
            update(TalkRequest)
            .where(
                col(TalkRequest.delivered_on).is_not(None),
                col(TalkRequest.delivery_confirmed).is_(False),
            )
            .values(delivered_on=None, delivered_to=None, delivery_confirmed=True)
        ).rowcount
    return int(reports or 0) + int(talks or 0)


def _claim(connection: Connection, claims: list[Claim]) -> set[Claim]:
    won: set[Claim] = set()
    rounds = [c for c in claims if c.kind in ROUND_KINDS]
    if rounds:
        rows = [
            {
                "round_id": c.subject,
                "member_id": c.member_id,
                "kind": c.kind.value,
                "confirmed": c.kind not in AT_LEAST_ONCE,
            }
            for c in rounds
        ]
        inserted = connection.execute(
            _insert_new(connection, Delivery, rows).returning(
                col(Delivery.round_id), col(Delivery.member_id), col(Delivery.kind)
            )
        ).all()
        won |= {Claim(Kind(k), r, m) for r, m, k in inserted}
    overdue = [c for c in claims if c.kind == Kind.OVERDUE]
    if overdue:
        rows = [{"action_id": c.subject, "member_id": c.member_id} for c in overdue]
        reminded = connection.execute(
            _insert_new(connection, ActionReminder, rows).returning(
                col(ActionReminder.action_id), col(ActionReminder.member_id)
            )
        ).all()
        won |= {Claim(Kind.OVERDUE, a, m) for a, m in reminded}
    for claim in (c for c in claims if c.kind == Kind.TALK):
        assert claim.day is not None, "a request to talk is delivered on a day"
        taken = connection.execute(
            update(TalkRequest)
            .where(col(TalkRequest.id) == claim.subject, col(TalkRequest.delivered_on).is_(None))
            .values(delivered_on=claim.day, delivered_to=claim.member_id, delivery_confirmed=False)
        ).rowcount
        if taken:
            won.add(claim)
    return won


def _insert_new(
    connection: Connection, table: type[SQLModel], rows: Sequence[Mapping[str, Any]]
) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql_insert(table).values(rows).on_conflict_do_nothing()
    return sqlite_insert(table).values(rows).on_conflict_do_nothing()


def _delivery_keys(claims: list[Claim]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(
                col(Delivery.round_id) == c.subject,
                col(Delivery.member_id) == c.member_id,
                col(Delivery.kind) == c.kind.value,
            )
            for c in claims
        )
    )


def results_sent(db: Database, round_id: int) -> bool:
    """Whether a round's results have started going out to workers."""
    with db.session() as session:
        return (
            session.exec(
                select(Delivery.member_id).where(
                    Delivery.round_id == round_id, Delivery.kind == Kind.RESULTS
                )
            ).first()
            is not None
        )
