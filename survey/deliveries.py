"""Who still has to get a round's message: the bot's sending is resumable.

Each message is claimed before it is sent (survey.claims); the bot continues after a crash with
everyone not yet claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from survey.claims import Kind
from survey.crypto import KeyRing
from survey.enrolment import member_chat_id
from survey.lifecycle import recipients
from survey.roles import READERS
from survey.storage import Database
from survey.storage.models import (
    CheckinChannel,
    Delivery,
    Member,
    MemberStatus,
    Role,
    RoundState,
    SurveyRound,
    Unit,
)


@dataclass(frozen=True)
class Recipient:
    member_id: int
    chat_id: int
    language: str
    unit_id: int = 0
    role: Role = Role.WORKER
    #: Where the worker chose to answer (None: the installation's default).
    checkin_channel: CheckinChannel | None = None


def recipient_of(keys: KeyRing, member: Member, unit_id: int | None = None) -> Recipient:
    """Whom to send to: the member, their chat, their language, and the unit the message is
    about (their own unless said)."""
    return Recipient(
        member.id,
        member_chat_id(keys, member),
        member.language,
        member.unit_id if unit_id is None else unit_id,
        Role(member.role),
        CheckinChannel(member.checkin_channel) if member.checkin_channel else None,
    )


def pending(db: Database, keys: KeyRing, round_id: int, kind: Kind) -> list[Recipient]:
    """Active workers of the round who have not answered and not yet been sent ``kind``."""
    members = recipients(db, round_id, only_unanswered=True)
    with db.session() as session:
        done = set(
            session.exec(
                select(Delivery.member_id).where(
                    Delivery.round_id == round_id, Delivery.kind == kind
                )
            ).all()
        )
    return [recipient_of(keys, m) for m in members if m.id not in done]


def report_recipients(db: Database, keys: KeyRing, round_id: int) -> list[Recipient]:
    """Managers and admins whose granted unit the closed round covered, not yet sent its report."""
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None or survey_round.state != RoundState.CLOSED:
            return []
        scope = {int(u) for u in survey_round.member_counts}
        staff = session.exec(
            select(Member).where(
                col(Member.role).in_(READERS),
                Member.status == MemberStatus.ACTIVE,
            )
        ).all()
        done = set(
            session.exec(
                select(Delivery.member_id).where(
                    Delivery.round_id == round_id, Delivery.kind == Kind.REPORT
                )
            ).all()
        )
        above = _ancestors(session, survey_round.unit_id)
    recipients = []
    for m in staff:
        if m.id in done:
            continue
        if m.unit_id in scope:  # the round covered their unit: their unit's report
            recipients.append(recipient_of(keys, m))
        elif m.unit_id in above:
            # A round of a unit below theirs (a team's own schedule): that unit's report,
            # which their grant covers.
            recipients.append(recipient_of(keys, m, survey_round.unit_id))
    return recipients


def results_recipients(db: Database, keys: KeyRing, round_id: int) -> list[Recipient]:
    """Active workers of a closed round's units who want results and have not had them.

    Everyone of those units, whether they answered or not (nobody can tell any more who did),
    including people who joined after the round opened.
    """
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None or survey_round.state != RoundState.CLOSED:
            return []
        units = [int(u) for u in survey_round.member_counts]
        done = select(Delivery.member_id).where(
            Delivery.round_id == round_id, Delivery.kind == Kind.RESULTS
        )
        workers = session.exec(
            select(Member)
            .where(
                col(Member.unit_id).in_(units),
                Member.role == Role.WORKER,
                Member.status == MemberStatus.ACTIVE,
                col(Member.wants_results),
                col(Member.id).not_in(done),
            )
            .order_by(col(Member.id))
        ).all()
    return [recipient_of(keys, m) for m in workers]


def recipients_of(db: Database, keys: KeyRing, member_ids: list[int]) -> list[Recipient]:
    """Active members by id, as recipients."""
    with db.session() as session:
        members = session.exec(
            select(Member).where(
                col(Member.id).in_(member_ids), Member.status == MemberStatus.ACTIVE
            )
        ).all()
    return [recipient_of(keys, m) for m in members]


def set_wants_results(db: Database, member_id: int, wanted: bool) -> None:
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is not None:
            member.wants_results = wanted


def set_checkin_channel(db: Database, member_id: int, channel: CheckinChannel | None) -> None:
    """Where the worker answers from the next check-in on (None: the installation's default)."""
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is not None:
            member.checkin_channel = channel


def _ancestors(session: Session, unit_id: int) -> set[int]:
    found: set[int] = set()
    unit = session.get(Unit, unit_id)
    while unit is not None and unit.parent_id is not None and unit.parent_id not in found:
        found.add(unit.parent_id)
        unit = session.get(Unit, unit.parent_id)
    return found


def staff_chats(db: Database, keys: KeyRing) -> list[tuple[int, str, Role]]:
    """(chat id, language, role) of every manager and admin, for their command menus."""
    with db.session() as session:
        staff = session.exec(select(Member).where(col(Member.role).in_(READERS))).all()
    return [(member_chat_id(keys, m), m.language, m.role) for m in staff]
