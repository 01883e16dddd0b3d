"""Claims: written before a message leaves, one winner per message, and what a crash left open
read by kind (survey.claims). On both engines: the claim's exclusivity is the database's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from survey.actions import record_action
from survey.claims import (
    Claim,
    Kind,
    claim_many,
    confirm_many,
    release_many,
    reopen_unconfirmed,
)
from survey.deliveries import pending
from survey.enrolment import enrol_member
from survey.storage.models import Delivery, Role, TalkRecipient, TalkRequest
from survey.talk import due_talks, request_talk


def test_a_message_is_claimed_once_whoever_asks(make_world) -> None:
    world = make_world((6,))
    claims = [Claim(Kind.INVITATION, world.round.id, m.id) for m in world.members]
    assert claim_many(world.db, claims) == [True] * 6
    # A second process (or a redelivered tick) asking for the same claims gets none of them,
    # also when its batch mixes claimed and new ones.
    assert claim_many(world.db, claims[:3]) == [False] * 3
    reminder = Claim(Kind.REMINDER, world.round.id, world.members[0].id)
    assert claim_many(world.db, [claims[4], reminder]) == [False, True]
    assert pending(world.db, world.keys, world.round.id, Kind.INVITATION) == []


def test_a_released_claim_is_sent_again(make_world) -> None:
    world = make_world((6,))
    claim = Claim(Kind.INVITATION, world.round.id, world.members[0].id)
    assert claim_many(world.db, [claim]) == [True]
    release_many(world.db, [claim])  # Telegram provably did not deliver
    still = pending(world.db, world.keys, world.round.id, Kind.INVITATION)
    assert world.members[0].id in {r.member_id for r in still}
    assert claim_many(world.db, [claim]) == [True]


def test_a_crash_leaves_reports_to_send_again_and_invitations_sent(make_world) -> None:
    """An invitation whose outcome a crash hid counts as sent (the reminder covers a miss); a
    report must not be lost: unconfirmed, it is opened again for the next leader."""
    world = make_world((6,))
    manager = enrol_member(
        world.db,
        world.keys,
        telegram_user_id=7_000_000_001,
        chat_id=7_000_000_001,
        unit_id=world.root.id,
        role=Role.MANAGER,
    )
    invitation = Claim(Kind.INVITATION, world.round.id, world.members[0].id)
    report = Claim(Kind.REPORT, world.round.id, manager.id)
    confirmed_report = Claim(Kind.REPORT, world.round.id, world.members[1].id)
    assert claim_many(world.db, [invitation, report, confirmed_report]) == [True] * 3
    confirm_many(world.db, [confirmed_report])
    assert reopen_unconfirmed(world.db) == 1
    with world.db.session() as session:
        kept = {(d.kind, d.member_id) for d in session.exec(select(Delivery)).all()}
    assert kept == {
        (Kind.INVITATION, world.members[0].id),
        (Kind.REPORT, world.members[1].id),
    }
    assert reopen_unconfirmed(world.db) == 0


def test_an_overdue_reminder_is_claimed_per_manager(make_world) -> None:
    world = make_world((6,))
    today = datetime.now(UTC).date()
    action = record_action(
        world.db,
        unit_id=world.teams[0].id,
        title="Case review",
        owner="Team 1",
        due_on=today - timedelta(days=1),
        today=today - timedelta(days=9),
    )
    first, second = (Claim(Kind.OVERDUE, action.id, m.id) for m in world.members[:2])
    assert claim_many(world.db, [first]) == [True]
    assert claim_many(world.db, [first, second]) == [False, True]
    release_many(world.db, [second])
    assert claim_many(world.db, [second]) == [True]


def test_a_request_to_talk_is_claimed_then_confirmed_or_opened_again(make_world) -> None:
    world = make_world((6,))
    staff = enrol_member(
        world.db,
        world.keys,
        telegram_user_id=7_000_000_002,
        chat_id=7_000_000_002,
        unit_id=world.teams[0].id,
        role=Role.MANAGER,
    )
    today = datetime.now(UTC).date()
    asked = request_talk(
        world.db,
        world.keys,
        member_id=world.members[0].id,
        recipient=TalkRecipient.MANAGER,
        name="Anna",
        today=today - timedelta(days=1),
        cooldown_days=7,
    )
    [due] = due_talks(world.db, world.keys, today)
    claim = Claim(Kind.TALK, due.request_id, staff.id, day=today)
    assert claim_many(world.db, [claim, claim]) == [True, False]  # asked twice at once: one
    assert claim_many(world.db, [claim]) == [False]
    assert due_talks(world.db, world.keys, today) == []
    assert reopen_unconfirmed(world.db) == 1  # a crash hid whether it arrived: again
    assert [d.request_id for d in due_talks(world.db, world.keys, today)] == [asked.id]
    assert claim_many(world.db, [claim]) == [True]
    confirm_many(world.db, [claim])
    assert reopen_unconfirmed(world.db) == 0
    with world.db.session() as session:
        stored = session.get(TalkRequest, asked.id)
        assert stored is not None
        assert (stored.delivered_on, stored.delivered_to) == (today, staff.id)
