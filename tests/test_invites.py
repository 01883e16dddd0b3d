"""Invites: expiry, uses, revocation, wrong-code rate limiting, role scope (P8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from survey.enrolment import AlreadyEnrolledError, create_unit, scope_of
from survey.invites import (
    ExpiredInviteError,
    RevokedInviteError,
    TooManyAttemptsError,
    UnknownInviteError,
    UsedUpInviteError,
    create_invite,
    invite_link,
    redeem_invite,
    revoke_invite,
    write_qr_png,
)
from survey.storage.models import Role

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def tree(db):
    root = create_unit(db, "Socialförvaltningen", kind="forvaltning")
    ifo = create_unit(db, "IFO", parent_id=root.id, kind="avdelning")
    team = create_unit(db, "Barn och unga", parent_id=ifo.id, kind="team")
    other = create_unit(db, "Äldreomsorg", parent_id=root.id, kind="avdelning")
    return root, ifo, team, other


def _redeem(db, keys, settings, token, user=1001, now=NOW):
    return redeem_invite(
        db, keys, settings, token=token, telegram_user_id=user, chat_id=user, language="en", now=now
    )


def test_worker_joins_their_unit(db, keys, settings, tree) -> None:
    _, _, team, _ = tree
    invite = create_invite(
        db, unit_id=team.id, role=Role.WORKER, expires_in=timedelta(days=14), max_uses=30, now=NOW
    )
    member = _redeem(db, keys, settings, invite.token)
    assert (member.unit_id, member.role, member.language) == (team.id, Role.WORKER, "en")
    link = invite_link("@staff_pulse_bot", invite.token)
    assert link == f"https://t.me/staff_pulse_bot?start={invite.token}"
    assert len(invite.token) <= 64
    with pytest.raises(AlreadyEnrolledError):
        _redeem(db, keys, settings, invite.token)


def test_tokens_are_stored_only_as_hashes(db, tree) -> None:
    invite = create_invite(
        db, unit_id=tree[2].id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=1, now=NOW
    )
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM invite")).scalars().all()
    assert invite.token not in stored
    assert len(stored[0]) == 64


def test_expired_used_up_and_revoked_invites_are_refused(db, keys, settings, tree) -> None:
    team = tree[2]
    expiring = create_invite(
        db, unit_id=team.id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=5, now=NOW
    )
    with pytest.raises(ExpiredInviteError, match="expired"):
        _redeem(db, keys, settings, expiring.token, now=NOW + timedelta(days=1))
    single = create_invite(
        db, unit_id=team.id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=1, now=NOW
    )
    _redeem(db, keys, settings, single.token, user=1)
    with pytest.raises(UsedUpInviteError, match="used up"):
        _redeem(db, keys, settings, single.token, user=2)
    revoked = create_invite(
        db, unit_id=team.id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=5, now=NOW
    )
    revoke_invite(db, revoked.invite_id)
    with pytest.raises(RevokedInviteError, match="withdrawn"):
        _redeem(db, keys, settings, revoked.token, user=3)


def test_wrong_codes_are_rate_limited_per_user(db, keys, settings, tree) -> None:
    good = create_invite(
        db, unit_id=tree[2].id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=5, now=NOW
    )
    for attempt in range(settings.invite_max_failures):
        with pytest.raises(UnknownInviteError, match="not valid"):
            _redeem(db, keys, settings, f"guess-{attempt:020d}", now=NOW)
    with pytest.raises(TooManyAttemptsError, match="try again in 15 minutes"):
        _redeem(db, keys, settings, good.token, now=NOW)  # even a right code waits
    _redeem(db, keys, settings, good.token, user=2, now=NOW)  # other people are not affected
    later = NOW + timedelta(minutes=settings.invite_failure_window_minutes)
    member = _redeem(db, keys, settings, good.token, now=later)
    assert member.unit_id == tree[2].id


def test_manager_invite_grants_the_unit_and_its_subtree(db, keys, settings, tree) -> None:
    root, ifo, team, other = tree
    invite = create_invite(
        db, unit_id=ifo.id, role=Role.MANAGER, expires_in=timedelta(days=1), max_uses=1, now=NOW
    )
    manager = _redeem(db, keys, settings, invite.token, user=77)
    assert manager.role == Role.MANAGER
    assert scope_of(db, manager) == {ifo.id, team.id}
    assert other.id not in scope_of(db, manager)
    assert root.id not in scope_of(db, manager)


def test_qr_code_is_a_png(tmp_path, db, tree) -> None:
    invite = create_invite(
        db, unit_id=tree[2].id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=1, now=NOW
    )
    path = write_qr_png(invite_link("staff_pulse_bot", invite.token), tmp_path / "qr.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_staff_invites_work_once_and_expire_in_48_hours(db, keys, settings, tree) -> None:
    """A forwarded manager link makes one manager, not two (P8)."""
    from survey.invites import InviteError, default_terms

    life, uses = default_terms(settings, Role.MANAGER)
    assert (life, uses) == (timedelta(hours=48), 1)
    assert default_terms(settings, Role.WORKER) == (timedelta(days=14), 50)
    with pytest.raises(InviteError, match="single use"):
        create_invite(db, unit_id=tree[1].id, role=Role.ADMIN, expires_in=life, max_uses=5)
    invite = create_invite(
        db, unit_id=tree[1].id, role=Role.MANAGER, expires_in=life, max_uses=uses, now=NOW
    )
    assert _redeem(db, keys, settings, invite.token, user=1).role == Role.MANAGER
    with pytest.raises(UsedUpInviteError):
        _redeem(db, keys, settings, invite.token, user=2)
    late = create_invite(
        db, unit_id=tree[1].id, role=Role.MANAGER, expires_in=life, max_uses=1, now=NOW
    )
    with pytest.raises(ExpiredInviteError):
        _redeem(db, keys, settings, late.token, user=3, now=NOW + timedelta(hours=48))


def test_wrong_codes_are_limited_under_concurrency(db, keys, settings, tree) -> None:
    """40 wrong codes at once from one person: exactly the limit is looked at, the rest are
    refused as too many, and nothing fails with a database error."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(n: int) -> str:
        try:
            _redeem(db, keys, settings, f"wrong-code-{n:04d}-xxxxxxxxxxxxxxxx", user=4242)
        except UnknownInviteError:
            return "unknown"
        except TooManyAttemptsError:
            return "too many"
        return "joined"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes.count("unknown") == settings.invite_max_failures
    assert outcomes.count("too many") == 40 - settings.invite_max_failures
