"""Staff in the dashboard: one-time login links, sessions, and the log of who looked.

Staff act in their role here, not anonymously: a session knows who it is, and every opening of a
unit's page is logged with the reader's Telegram name (encrypted) for 90 days, so that a unit can
ask who looked. Only hashes of the links' and sessions' secrets are stored, so a copy of the
database logs nobody in. A session ends when it has been idle too long, at logout, and as soon
as the person's role or grant changes or they leave; its forms carry a CSRF token of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select

from survey.crypto import KeyRing
from survey.enrolment import subtree_ids
from survey.phrases import N_, Phrase, phrase
from survey.roles import ACTORS, READERS
from survey.storage import Database
from survey.storage.models import (
    LoginLink,
    Member,
    MemberStatus,
    Role,
    StaffAccess,
    Unit,
    WebSession,
)


class LoginError(ValueError):
    """Nobody was logged in; ``problem`` says what to do, translatable."""

    def __init__(self, problem: Phrase) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_link(
    db: Database, keys: KeyRing, member_id: int, name: str, now: datetime, minutes: int
) -> str:
    """The secret of a one-time login link for a staff member, valid ``minutes``; ``name``
    (their Telegram name) goes to the access log of the session it starts."""
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is None or member.role not in READERS:
            raise LoginError(
                phrase(N_("The dashboard is for managers, safety representatives and admins."))
            )
        session.add(
            LoginLink(
                token_hash=_hash(token),
                member_id=member_id,
                name_sealed=keys.chat_id_cipher().encrypt_name(name[:200], member.pseudonym),
                expires_at=now + timedelta(minutes=minutes),
            )
        )
    return token


def redeem_login_link(
    db: Database, keys: KeyRing, token: str, now: datetime
) -> tuple[Member, str]:
    """The staff member a login link is for and their name, using the link up in the same
    statement: two requests with the same link cannot both log in."""
    with db.session() as session:
        used = session.execute(
            update(LoginLink)
            .where(
                col(LoginLink.token_hash) == _hash(token),
                col(LoginLink.used_at).is_(None),
                col(LoginLink.expires_at) > now,
            )
            .values(used_at=now)
            .returning(col(LoginLink.member_id), col(LoginLink.name_sealed))
        ).one_or_none()
        member = session.get(Member, used[0]) if used is not None else None
        if member is None or member.role not in READERS or member.status != MemberStatus.ACTIVE:
            raise LoginError(
                phrase(
                    N_(
                        "This login link has been used or has expired. Send /dashboard to the "
                        "bot for a new one."
                    )
                )
            )
        assert used is not None, "a member was found for the link"
        name = keys.chat_id_cipher().decrypt_name(used[1], member.pseudonym)
        session.expunge(member)
        return member, name


@dataclass(frozen=True)
class StaffSession:
    """A logged-in staff member: who, what they may see and do, and their forms' token."""

    member: Member
    scope: frozenset[int]
    csrf: str
    name: str

    @property
    def may_act(self) -> bool:
        """Records and moves on actions, writes notes (a safety representative comments)."""
        return Role(self.member.role) in ACTORS


def start_session(
    db: Database, keys: KeyRing, member: Member, name: str, now: datetime
) -> tuple[str, str]:
    """A new session for a staff member (never one the browser brought: no fixation);
    returns the cookie's secret and the CSRF token."""
    if member.role not in READERS or member.status != MemberStatus.ACTIVE:
        raise LoginError(
            phrase(N_("The dashboard is for managers, safety representatives and admins."))
        )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with db.session() as session:
        session.add(
            WebSession(
                token_hash=_hash(token),
                member_id=member.id,
                role=member.role,
                unit_id=member.unit_id,
                csrf=csrf,
                name_sealed=keys.chat_id_cipher().encrypt_name(name[:200], member.pseudonym),
                created_at=now,
                last_seen=now,
            )
        )
    return token, csrf


def session_of(
    db: Database, keys: KeyRing, token: str, now: datetime, idle: timedelta
) -> StaffSession | None:
    """The session behind a cookie, or None: unknown, idle too long, or its member left or
    has another role or grant than when it began (then it is ended here)."""
    with db.session() as session:
        row = session.get(WebSession, _hash(token))
        if row is None:
            return None
        member = session.get(Member, row.member_id)
        if (
            member is None
            or member.role != row.role
            or member.unit_id != row.unit_id
            or member.status != MemberStatus.ACTIVE
            or now - row.last_seen > idle
        ):
            session.delete(row)
            return None
        row.last_seen = now
        scope = frozenset(subtree_ids(session, member.unit_id))
        name = keys.chat_id_cipher().decrypt_name(row.name_sealed, member.pseudonym)
        csrf = row.csrf
        session.expunge(member)
    return StaffSession(member, scope, csrf, name)


def end_session(db: Database, token: str) -> None:
    with db.session() as session:
        session.execute(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))


def log_access(
    db: Database, keys: KeyRing, staff: StaffSession, unit_id: int, now: datetime
) -> None:
    """Record that ``staff`` opened the page of ``unit_id``."""
    with db.session() as session:
        session.add(
            StaffAccess(
                unit_id=unit_id,
                role=staff.member.role,
                pseudonym=staff.member.pseudonym,
                name_sealed=keys.chat_id_cipher().encrypt_name(
                    staff.name, staff.member.pseudonym
                ),
                at=now,
            )
        )


@dataclass(frozen=True)
class Access:
    at: datetime
    unit: str
    role: Role
    name: str


def access_log(
    db: Database, keys: KeyRing, since: datetime, unit_id: int | None = None
) -> list[Access]:
    """Who opened which unit's page since ``since`` (of ``unit_id`` and its sub-units)."""
    cipher = keys.chat_id_cipher()
    with db.session() as session:
        query = select(StaffAccess, Unit.name).join(Unit, col(Unit.id) == StaffAccess.unit_id)
        query = query.where(col(StaffAccess.at) >= since)
        if unit_id is not None:
            if session.get(Unit, unit_id) is None:
                raise ValueError(f"there is no unit {unit_id} (see `pulse units list`)")
            query = query.where(col(StaffAccess.unit_id).in_(subtree_ids(session, unit_id)))
        rows = session.exec(query.order_by(col(StaffAccess.at))).all()
    return [
        Access(row.at, name, Role(row.role), cipher.decrypt_name(row.name_sealed, row.pseudonym))
        for row, name in rows
    ]


def purge_access_log(db: Database, before: datetime) -> int:
    """Forget openings older than ``before`` (90 days by default); returns how many."""
    with db.transaction() as connection:
        purged = connection.execute(
            delete(StaffAccess).where(col(StaffAccess.at) < before)
        ).rowcount
        # Links and sessions long unusable go with it (they open nothing already).
        connection.execute(delete(LoginLink).where(col(LoginLink.expires_at) < before))
        connection.execute(delete(WebSession).where(col(WebSession.last_seen) < before))
    return purged
