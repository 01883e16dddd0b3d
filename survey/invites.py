"""Invite links: how people join their unit without anyone typing their name anywhere.

A token is 32 random bytes (43 URL-safe characters, within Telegram's 64 for a start
parameter); only its SHA-256 is stored, so a database copy cannot be used to join. Wrong codes
are counted per pseudonym and rate limited, so guessing is pointless as well as hopeless (P8).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import qrcode
from sqlalchemy import Insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from survey.crypto import KeyRing
from survey.enrolment import AlreadyEnrolledError
from survey.settings import SUPPORTED_LANGUAGES, SurveySettings
from survey.storage import Database
from survey.storage.models import Invite, InviteFailure, Member, Role, Unit


class InviteError(ValueError):
    """The invite cannot be used; the message is safe and helpful to show the person."""


class UnknownInviteError(InviteError):
    pass


class ExpiredInviteError(InviteError):
    pass


class UsedUpInviteError(InviteError):
    pass


class RevokedInviteError(InviteError):
    pass


class TooManyAttemptsError(InviteError):
    pass


@dataclass(frozen=True)
class CreatedInvite:
    invite_id: int
    token: str
    unit_id: int
    role: Role
    expires_at: datetime
    max_uses: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(
    db: Database,
    *,
    unit_id: int,
    role: Role,
    expires_in: timedelta,
    max_uses: int,
    label: str = "",
    now: datetime | None = None,
) -> CreatedInvite:
    """Make an invite; the token is returned once and never stored."""
    now = now or datetime.now(UTC)
    if max_uses < 1:
        raise InviteError("an invite needs at least one use")
    if role != Role.WORKER and max_uses != 1:
        # A forwarded staff link must not make a second manager (P8).
        raise InviteError(f"{role.value} invites are single use: make one for each person")
    if expires_in <= timedelta(0):
        raise InviteError("an invite must expire in the future")
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.archived:
            raise InviteError(f"unit {unit_id} does not exist or is archived")
        invite = Invite(
            token_hash=hash_token(token),
            unit_id=unit_id,
            role=role,
            label=label.strip()[:120],
            created_at=now,
            expires_at=now + expires_in,
            max_uses=max_uses,
        )
        session.add(invite)
        session.flush()
        return CreatedInvite(invite.id, token, unit_id, role, invite.expires_at, max_uses)


def default_terms(settings: SurveySettings, role: Role) -> tuple[timedelta, int]:
    """(life, uses) of a new invite when the admin says nothing: a worker invite is for a whole
    team; a staff invite is for one person and short-lived (P8)."""
    if role == Role.WORKER:
        return timedelta(days=settings.invite_expiry_days), 50
    return timedelta(hours=settings.staff_invite_expiry_hours), 1


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"


def write_qr_png(link: str, path: Path) -> Path:
    """A QR code of the link, large enough to scan from a poster or a projected slide."""
    image = qrcode.make(link, box_size=12, border=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(path))
    return path


def revoke_invite(db: Database, invite_id: int) -> None:
    with db.session() as session:
        invite = session.get(Invite, invite_id)
        if invite is None:
            raise InviteError(f"no invite {invite_id}")
        invite.revoked = True


def list_invites(db: Database) -> list[Invite]:
    with db.session() as session:
        return list(session.exec(select(Invite).order_by(col(Invite.id))).all())


def redeem_invite(
    db: Database,
    keys: KeyRing,
    settings: SurveySettings,
    *,
    token: str,
    telegram_user_id: int,
    chat_id: int,
    language: str,
    now: datetime | None = None,
) -> Member:
    """Enrol the person behind ``telegram_user_id`` with the invite's unit and role.

    Long because it is one transaction: the attempt is counted before the code is looked up, then
    checked, then used, in that order, so that concurrent guesses cannot pass the limit.
    """
    now = now or datetime.now(UTC)
    if language not in SUPPORTED_LANGUAGES:
        language = settings.language
    pseudonym = keys.pseudonymizer().pseudonym(telegram_user_id)
    window = timedelta(minutes=settings.invite_failure_window_minutes)
    token = token.strip()
    _claim_attempt(db, pseudonym, now, window, settings.invite_max_failures)
    with db.session() as session:
        invite = (
            session.exec(select(Invite).where(Invite.token_hash == hash_token(token))).first()
            if 16 <= len(token) <= 64
            else None
        )
    if invite is None:
        raise UnknownInviteError(
            "this invite code is not valid: check the link or ask for a new one"
        )
    if invite.revoked:
        raise RevokedInviteError("this invite has been withdrawn: ask for a new one")
    if now >= invite.expires_at:
        raise ExpiredInviteError("this invite has expired: ask for a new one")
    sealed_chat = keys.chat_id_cipher().encrypt(chat_id, pseudonym)
    try:
        with db.session() as session:
            if session.exec(select(Member.id).where(Member.pseudonym == pseudonym)).first():
                raise AlreadyEnrolledError("you are already enrolled")
            taken = session.connection().execute(
                update(Invite)
                .where(
                    col(Invite.id) == invite.id,
                    col(Invite.uses) < Invite.max_uses,
                    col(Invite.revoked) == False,  # noqa: E712
                )
                .values(uses=Invite.uses + 1)
            )
            if taken.rowcount != 1:
                raise UsedUpInviteError("this invite has been used up: ask for a new one")
            unit = session.get(Unit, invite.unit_id)
            if unit is None or unit.archived:
                raise InviteError("the unit of this invite no longer exists: ask for a new one")
            member = Member(
                pseudonym=pseudonym,
                chat_id_sealed=sealed_chat,
                role=invite.role,
                unit_id=invite.unit_id,
                language=language,
            )
            session.add(member)
            stale = session.get(InviteFailure, pseudonym)
            if stale is not None:
                session.delete(stale)
            session.flush()
            return member
    except IntegrityError as exc:  # the same person redeeming twice at the same moment
        raise AlreadyEnrolledError("you are already enrolled") from exc


def _claim_attempt(
    db: Database, pseudonym: str, now: datetime, window: timedelta, limit: int
) -> None:
    """Count this attempt before the code is even looked up, in one atomic statement, so that
    concurrent wrong codes cannot slip past the limit; a successful redemption clears it."""
    fresh = now - window
    for _ in range(2):
        with db.session() as session:
            counted = (
                session.connection()
                .execute(
                    update(InviteFailure)
                    .where(
                        col(InviteFailure.pseudonym) == pseudonym,
                        col(InviteFailure.window_start) > fresh,
                        col(InviteFailure.failures) < limit,
                    )
                    .values(failures=InviteFailure.failures + 1)
                )
                .rowcount
            )
            if counted == 1:
                return
            restarted = (
                session.connection()
                .execute(
                    update(InviteFailure)
                    .where(
                        col(InviteFailure.pseudonym) == pseudonym,
                        col(InviteFailure.window_start) <= fresh,
                    )
                    .values(window_start=now, failures=1)
                )
                .rowcount
            )
            if restarted == 1:
                return
            statement = (
                _insert_ignore(session)
                .values(pseudonym=pseudonym, window_start=now, failures=1)
                .returning(col(InviteFailure.pseudonym))  # rowcount is not reliable on psycopg
            )
            if session.execute(statement).first() is not None:
                return
            failure = session.get(InviteFailure, pseudonym)
            if failure is not None and failure.failures >= limit:
                wait = failure.window_start + window - now
                minutes = max(1, math.ceil(wait.total_seconds() / 60))
                raise TooManyAttemptsError(
                    f"too many wrong invite codes; try again in {minutes} minutes"
                )
    raise TooManyAttemptsError("too many wrong invite codes; try again in a few minutes")


def _insert_ignore(session: Session) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING on either engine."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(InviteFailure).on_conflict_do_nothing(index_elements=["pseudonym"])
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(InviteFailure).on_conflict_do_nothing(index_elements=["pseudonym"])
