"""Asking to talk about one's work situation: the individual offer the city plan asks for.

Deliberately not anonymous - the worker chooses to be known to one person - and deliberately
apart from the check-ins: a request stores who asked, their Telegram name (encrypted), whom
they want to talk to and the day, nothing else; no answer, no round, no time finer than a day.
Requests go out in one batch a day (PULSE_TALK_DELIVERY_HOUR), the day after they were made,
so the moment a recipient hears of one says nothing about when its sender last answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, delete, select

from survey.crypto import KeyRing
from survey.deliveries import Recipient, recipient_of
from survey.phrases import N_, Phrase, phrase
from survey.storage import Database
from survey.storage.models import (
    Member,
    MemberStatus,
    Role,
    TalkRecipient,
    TalkRequest,
    Unit,
)

#: Requests (and the link to their sender) are kept this long after they went out, for replies.
KEEP_DAYS = 30


class TalkError(ValueError):
    def __init__(self, problem: Phrase) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _nearest(session: Session, unit_id: int, role: Role) -> Member | None:
    """The first active staff member with ``role`` in the unit or the nearest unit above it."""
    seen: set[int] = set()
    current: int | None = unit_id
    while current is not None and current not in seen:
        seen.add(current)
        found = session.exec(
            select(Member)
            .where(
                Member.unit_id == current, Member.role == role, Member.status == MemberStatus.ACTIVE
            )
            .order_by(col(Member.id))
        ).first()
        if found is not None:
            return found
        unit = session.get(Unit, current)
        current = unit.parent_id if unit is not None else None
    return None


def available_recipients(db: Database, unit_id: int) -> list[TalkRecipient]:
    """Whom a worker of ``unit_id`` can ask: a manager, a safety representative, where there
    is one for their unit or a unit above it."""
    with db.session() as session:
        return [
            recipient
            for recipient in TalkRecipient
            if _nearest(session, unit_id, Role(recipient.value)) is not None
        ]


def request_talk(
    db: Database,
    keys: KeyRing,
    *,
    member_id: int,
    recipient: TalkRecipient,
    name: str,
    today: date,
    cooldown_days: int,
) -> TalkRequest:
    """Record a request for the next daily batch; at most one per ``cooldown_days``."""
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is None or member.role != Role.WORKER:
            raise TalkError(phrase(N_("Only workers enrolled in a unit can ask this.")))
        if _nearest(session, member.unit_id, Role(recipient.value)) is None:
            raise TalkError(phrase(N_("There is nobody in that role for your unit yet.")))
        since = today - timedelta(days=cooldown_days - 1)
        recent = session.exec(
            select(TalkRequest).where(
                TalkRequest.member_id == member_id, col(TalkRequest.requested_on) >= since
            )
        ).first()
        if recent is not None:
            raise TalkError(
                phrase(
                    N_("You asked on {date}; you can ask again from {next}."),
                    date=recent.requested_on.isoformat(),
                    next=(recent.requested_on + timedelta(days=cooldown_days)).isoformat(),
                )
            )
        request = TalkRequest(
            member_id=member_id,
            recipient=recipient,
            name_sealed=keys.chat_id_cipher().encrypt_name(name[:200], member.pseudonym),
            requested_on=today,
        )
        session.add(request)
        session.flush()
        session.refresh(request)
        session.expunge(request)
    return request


@dataclass(frozen=True)
class DueTalk:
    request_id: int
    name: str
    requested_on: date
    recipient_role: TalkRecipient
    to: Recipient


def due_talks(db: Database, keys: KeyRing, today: date) -> list[DueTalk]:
    """Requests made before ``today`` and not yet delivered, each with its recipient."""
    found = []
    with db.session() as session:
        requests = session.exec(
            select(TalkRequest)
            .where(col(TalkRequest.delivered_on).is_(None), col(TalkRequest.requested_on) < today)
            .order_by(col(TalkRequest.id))
        ).all()
        for request in requests:
            member = session.get(Member, request.member_id)
            assert member is not None  # the request goes with its member (ON DELETE CASCADE)
            staff = _nearest(session, member.unit_id, Role(str(request.recipient)))
            if staff is None:
                continue  # nobody in the role now: kept until someone is
            name = keys.chat_id_cipher().decrypt_name(request.name_sealed, member.pseudonym)
            to = recipient_of(keys, staff)
            found.append(
                DueTalk(
                    request.id, name, request.requested_on, TalkRecipient(request.recipient), to
                )
            )
    return found


def reply_target(db: Database, keys: KeyRing, request_id: int, staff_id: int) -> Recipient:
    """The worker behind a request delivered to ``staff_id``: only its recipient may reply."""
    with db.session() as session:
        request = session.get(TalkRequest, request_id)
        if request is None or request.delivered_to != staff_id:
            raise TalkError(phrase(N_("This request is no longer here to reply to.")))
        member = session.get(Member, request.member_id)
        assert member is not None
        return recipient_of(keys, member)


def purge_talks(db: Database, today: date) -> int:
    """Forget requests delivered more than ``KEEP_DAYS`` ago: who asked whom, and when."""
    with db.session() as session:
        result = session.exec(
            delete(TalkRequest).where(
                col(TalkRequest.delivered_on) < today - timedelta(days=KEEP_DAYS)
            )
        )
        return int(result.rowcount or 0)
