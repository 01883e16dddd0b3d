"""Accepting a check-in: one transaction, one answer per member and round, clear refusals."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

import survey.intake as intake_module
from survey.crypto import SEALED_BYTES
from survey.enrolment import create_unit, enrol_member
from survey.intake import SubmissionIntake
from survey.storage import Database, DatabaseUnavailableError, make_engine
from survey.storage.models import Participation, PoolSubmission, Role
from survey.submissions import (
    AlreadyAnsweredError,
    NotEligibleError,
    RoundNotOpenError,
    SubmissionError,
    SubmissionRequest,
    submit,
    submit_many,
)

ANSWER = {"behind": 4, "stress": 2, "support": 5, "deadlines": "no"}


def _counts(world) -> tuple[int, int]:
    with world.db.session() as session:
        pool = session.exec(select(func.count()).select_from(PoolSubmission)).one()
        marks = session.exec(select(func.count()).select_from(Participation)).one()
    return pool, marks


def test_submit_stores_a_sealed_answer_and_a_participation_mark(make_world) -> None:
    world = make_world()
    member = world.members[0]
    submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    with world.db.session() as session:
        pool = session.exec(select(PoolSubmission)).all()
        marks = session.exec(select(Participation)).all()
    assert len(pool) == 1
    assert len(pool[0].sealed) == SEALED_BYTES
    assert pool[0].unit_id == member.unit_id
    assert [(m.round_id, m.pseudonym) for m in marks] == [(world.round.id, member.pseudonym)]


def test_double_submit_gives_one_answer_and_a_clear_message(make_world) -> None:
    world = make_world()
    member = world.members[0]
    submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    with pytest.raises(AlreadyAnsweredError, match="already answered"):
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    assert _counts(world) == (1, 1)


def test_concurrent_double_submits_store_exactly_one(make_world) -> None:
    world = make_world()
    member = world.members[0]
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def tap() -> None:
        start.wait()
        try:
            submit(
                world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER
            )
            outcomes.append("accepted")
        except AlreadyAnsweredError:
            outcomes.append("already")

    threads = [threading.Thread(target=tap) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["already"] * 5
    assert _counts(world) == (1, 1)


def test_many_members_submitting_at_once_are_all_accepted(make_world) -> None:
    world = make_world((10, 10))
    errors: list[Exception] = []

    def answer(member_id: int) -> None:
        try:
            submit(
                world.db, world.keys, member_id=member_id, round_id=world.round.id, answers=ANSWER
            )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(m.id,)) for m in world.members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _counts(world) == (20, 20)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"behind": 4, "stress": 2}, "'support' is required"),
        ({**ANSWER, "behind": 6}, "'behind': 6 is not allowed"),
        ({**ANSWER, "behind": True}, "'behind': True is not allowed"),
        ({**ANSWER, "behind": "4"}, "'behind': '4' is not allowed"),
        ({**ANSWER, "salary": 3}, "unknown item 'salary'"),
        ({**ANSWER, "deadlines": "maybe"}, "'deadlines': 'maybe' is not allowed"),
        ([1, 2, 3], "must be a mapping"),
    ],
)
def test_invalid_answers_are_refused_and_nothing_is_stored(make_world, answers, message) -> None:
    world = make_world()
    with pytest.raises(SubmissionError, match=message):
        submit(
            world.db,
            world.keys,
            member_id=world.members[0].id,
            round_id=world.round.id,
            answers=answers,
        )
    assert _counts(world) == (0, 0)


def test_optional_item_may_be_skipped(make_world) -> None:
    world = make_world()
    answers = {"behind": 1, "stress": 1, "support": 1}
    submit(
        world.db,
        world.keys,
        member_id=world.members[0].id,
        round_id=world.round.id,
        answers=answers,
    )
    assert _counts(world) == (1, 1)


def test_round_outside_its_window_is_refused(make_world) -> None:
    world = make_world()
    member = world.members[0]
    late = datetime.now(UTC) + timedelta(days=10)
    with pytest.raises(RoundNotOpenError, match="closed"):
        submit(
            world.db,
            world.keys,
            member_id=member.id,
            round_id=world.round.id,
            answers=ANSWER,
            now=late,
        )
    with pytest.raises(RoundNotOpenError, match="does not exist"):
        submit(world.db, world.keys, member_id=member.id, round_id=9999, answers=ANSWER)
    assert _counts(world) == (0, 0)


def test_members_outside_the_round_or_not_workers_are_refused(make_world) -> None:
    world = make_world()
    elsewhere = create_unit(world.db, "Ekonomiskt bistånd")
    outsider = enrol_member(
        world.db, world.keys, telegram_user_id=42, chat_id=42, unit_id=elsewhere.id
    )
    manager = enrol_member(
        world.db,
        world.keys,
        telegram_user_id=43,
        chat_id=43,
        unit_id=world.root.id,
        role=Role.MANAGER,
    )
    with pytest.raises(NotEligibleError, match="not part of this check-in round"):
        submit(world.db, world.keys, member_id=outsider.id, round_id=world.round.id, answers=ANSWER)
    with pytest.raises(NotEligibleError, match="workers"):
        submit(world.db, world.keys, member_id=manager.id, round_id=world.round.id, answers=ANSWER)
    with pytest.raises(NotEligibleError, match="not enrolled"):
        submit(world.db, world.keys, member_id=10**6, round_id=world.round.id, answers=ANSWER)
    assert _counts(world) == (0, 0)


def test_sql_logs_carry_no_pseudonym_payload_or_id(make_world, caplog) -> None:
    world = make_world()
    member = world.members[0]
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    with pytest.raises(AlreadyAnsweredError):
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    assert "INSERT INTO pool_submission" in caplog.text  # the statements are logged...
    assert member.pseudonym not in caplog.text  # ...their parameters are not
    assert str(world.telegram_ids[0]) not in caplog.text
    with world.db.session() as session:
        sealed = session.exec(select(PoolSubmission.sealed)).one()
    assert sealed[-32:].hex() not in caplog.text
    assert repr(sealed[-32:])[2:-1] not in caplog.text


def test_a_batch_keeps_every_good_answer_and_refuses_each_bad_one(make_world) -> None:
    world = make_world((6,))
    first, second, third = (m.id for m in world.members[:3])
    submit(world.db, world.keys, member_id=third, round_id=world.round.id, answers=ANSWER)
    outcomes = submit_many(
        world.db,
        world.keys,
        [
            SubmissionRequest(first, world.round.id, ANSWER),
            SubmissionRequest(first, world.round.id, ANSWER),  # double tap inside the batch
            SubmissionRequest(second, world.round.id, {"behind": 9}),
            SubmissionRequest(third, world.round.id, ANSWER),  # answered before the batch
            SubmissionRequest(second, 999, ANSWER),
        ],
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], AlreadyAnsweredError)
    assert isinstance(outcomes[2], SubmissionError)
    assert "not allowed" in str(outcomes[2])
    assert isinstance(outcomes[3], AlreadyAnsweredError)
    assert isinstance(outcomes[4], RoundNotOpenError)
    assert _counts(world) == (2, 2)


async def test_intake_groups_concurrent_answers(make_world, monkeypatch) -> None:
    world = make_world((15, 15))
    intake = SubmissionIntake(world.db, world.keys)
    batches: list[int] = []
    original = intake_module.submit_many

    def counting(db, keys, requests, **kwargs):
        batches.append(len(requests))
        return original(db, keys, requests, **kwargs)

    monkeypatch.setattr(intake_module, "submit_many", counting)  # counts the shared commits

    async def press(member_id: int) -> str:
        try:
            await intake.submit(member_id=member_id, round_id=world.round.id, answers=ANSWER)
        except AlreadyAnsweredError:
            return "already"
        return "accepted"

    ids = [m.id for m in world.members] + [m.id for m in world.members[:10]]
    results = await asyncio.gather(*(press(i) for i in ids))
    assert results.count("accepted") == 30
    assert results.count("already") == 10
    assert _counts(world) == (30, 30)
    assert sum(batches) == 40
    assert len(batches) < 40  # callers that arrived together shared a transaction


async def test_intake_reports_a_database_failure_to_every_waiting_caller(make_world) -> None:
    world = make_world((6,))
    broken = Database(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    intake = SubmissionIntake(broken, world.keys)  # the database went away
    calls = [
        intake.submit(member_id=m.id, round_id=world.round.id, answers=ANSWER)
        for m in world.members[:3]
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, DatabaseUnavailableError) for r in results)
    assert "nothing was saved" in str(results[0])
    assert _counts(world) == (0, 0)
