"""Round close (P2): shuffled, re-sealed release; pool destroyed; participation made counts."""

from __future__ import annotations

import itertools
import math
import uuid

import pandas as pd
import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from survey.claims import Claim, Kind, claim_many
from survey.crypto import SEALED_BYTES, KeysMissingError, rotate_report_key, unseal
from survey.crypto.sealing import seal_context
from survey.deliveries import set_wants_results
from survey.installation import key_paths
from survey.storage.models import (
    Delivery,
    Participation,
    PoolSubmission,
    Response,
    RoundState,
    RoundUnitCount,
    SurveyRound,
)
from survey.submissions import ReleaseError, decode_answers, release_round, submit

# Three 5-point items give 125 distinct answer combinations: each member's answer identifies them
# for the test, which is exactly what lets it check whether storage order gives them away.
COMBINATIONS = list(itertools.product(range(1, 6), repeat=3))
# Two-sided critical |Spearman rho| for n = 100 at alpha = 0.001 (t = 3.39 with 98 df): a shuffled
# release exceeds it by chance once in a thousand runs; an unshuffled one has rho = 1.
CRITICAL_RHO_N100 = 0.33


def _answers(index: int) -> dict[str, int]:
    behind, stress, support = COMBINATIONS[index]
    return {"behind": behind, "stress": stress, "support": support}


def _submit_in_order(world, members=None) -> None:
    """The members (default: all) answer one after another, each a different combination."""
    for index, member in enumerate(world.members if members is None else members):
        submit(
            world.db,
            world.keys,
            member_id=member.id,
            round_id=world.round.id,
            answers=_answers(index),
        )


def _physical_order(db, table: str, round_id: int) -> list[tuple[int, bytes]]:
    """Rows as stored: SQLite scans a WITHOUT ROWID table in b-tree order; PostgreSQL by ctid."""
    order = " ORDER BY ctid" if db.dialect == "postgresql" else ""
    with db.engine.connect() as connection:
        return [
            (row.unit_id, row.sealed)
            for row in connection.execute(
                text(f"SELECT unit_id, sealed FROM {table} WHERE round_id = :r{order}"),  # noqa: S608
                {"r": round_id},
            )
        ]


def _answer_ranks(world, rows) -> list[int]:
    private = world.keys.report_private_key(world.round.report_key_id)
    ranks = []
    for unit_id, sealed in rows:
        answers = decode_answers(unseal(private, sealed, seal_context(world.round.id, unit_id)))
        chosen = (answers["behind"], answers["stress"], answers["support"])
        ranks.append(COMBINATIONS.index(chosen))  # type: ignore[arg-type]  # scale answers are ints
    return ranks


def _spearman(ranks: list[int]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (pandas needs SciPy for its own)."""
    position = pd.Series(range(len(ranks)), dtype=float)
    return float(position.corr(pd.Series(ranks).rank()))


def test_storage_order_says_nothing_about_answering_order(make_world) -> None:
    world = make_world((100,))
    _submit_in_order(world)
    pool_ranks = _answer_ranks(world, _physical_order(world.db, "pool_submission", world.round.id))
    release_round(world.db, world.keys, world.round.id)
    ranks = _answer_ranks(world, _physical_order(world.db, "response", world.round.id))
    # Every answer released at most once; everyone answered, so J + 2 = 3 are left out (P6).
    assert len(set(ranks)) == len(ranks) == 97
    rho = _spearman(ranks)
    assert abs(rho) < CRITICAL_RHO_N100, f"release order correlates with answer order: {rho:.2f}"
    if world.db.dialect == "postgresql":
        # The test has power: before release, heap order is answering order.
        assert _spearman(pool_ranks) > 0.99


def test_released_rows_share_no_transaction_id_with_participation(make_world) -> None:
    world = make_world((8, 7))
    if world.db.dialect != "postgresql":
        pytest.skip("xmin is PostgreSQL's")
    _submit_in_order(world)
    with world.db.engine.connect() as connection:
        before = {
            str(x)
            for table in ("pool_submission", "participation")
            for x in connection.execute(text(f"SELECT xmin FROM {table}")).scalars()  # noqa: S608
        }
    assert len(before) == 15  # one transaction per submission, as expected
    release_round(world.db, world.keys, world.round.id)
    with world.db.engine.connect() as connection:
        after = {str(x) for x in connection.execute(text("SELECT xmin FROM response")).scalars()}
    assert after
    assert not (after & before)


def test_after_close_nothing_says_who_answered(make_world) -> None:
    world = make_world((7, 6))
    for index, member in enumerate(world.members[:9]):
        submit(
            world.db,
            world.keys,
            member_id=member.id,
            round_id=world.round.id,
            answers=_answers(index),
        )
    for member in world.members[9:]:  # the reminder went to the four who had not answered
        claim_many(world.db, [Claim(Kind.REMINDER, world.round.id, member.id)])
    summary = release_round(world.db, world.keys, world.round.id)
    assert summary.respondents == 9
    # Neither team (7 and 6 members, below k + J + 2 = 8) can be shown: only the whole
    # unit's count is kept, and every answer carries the unit, not the team.
    assert summary.per_unit == {world.root.id: 9}
    with world.db.session() as session:
        assert session.exec(select(Participation)).all() == []
        assert session.exec(select(PoolSubmission)).all() == []
        assert session.exec(select(Delivery)).all() == []
        counts = {c.unit_id: c.respondents for c in session.exec(select(RoundUnitCount)).all()}
        assert counts == summary.per_unit
        assert {r.unit_id for r in session.exec(select(Response)).all()} == {world.root.id}
        assert session.get(SurveyRound, world.round.id).state == RoundState.CLOSED
    # Tables that can name a member: if a new one appears, this test must learn what it holds.
    inspector = inspect(world.db.engine)
    member_tables = {
        table
        for table in inspector.get_table_names()
        if any(fk["referred_table"] == "member" for fk in inspector.get_foreign_keys(table))
        or "pseudonym" in {c["name"] for c in inspector.get_columns(table)}
    }
    assert member_tables == {
        "member",
        "participation",
        "invite_failure",
        "delivery",
        # Who recorded an action: a manager, never a worker.
        "action",
        # Which manager had an overdue action's reminder: staff, never a worker.
        "action_reminder",
        # What the bot waits for a staff member to type (never a worker's check-in, P5).
        "pending_prompt",
        # A worker's request to talk, made by choice and not anonymous: it must name no round
        # and hold no time finer than a day, so it cannot be matched with a check-in.
        "talk_request",
        # The dashboard's login links, sessions and access log: staff only (survey.staff_access
        # refuses a worker; tests/web/test_dashboard.py), never a round or an answer.
        "login_link",
        "web_session",
        "staff_access",
    }
    for table in ("login_link", "web_session", "staff_access"):
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert not any("round" in name for name in columns), table
    talk = {c["name"]: c for c in inspector.get_columns("talk_request")}
    assert not any(
        fk["referred_table"] == "survey_round" for fk in inspector.get_foreign_keys("talk_request")
    )
    assert not any("round" in name for name in talk)
    assert {name for name, c in talk.items() if "DATE" in str(c["type"]).upper()} == {
        "requested_on",
        "delivered_on",
    }
    assert not any("TIME" in str(c["type"]).upper() for c in talk.values())


def test_responses_are_resealed_uuid4_rows_of_equal_length(make_world) -> None:
    world = make_world((10,))
    _submit_in_order(world)
    pool = {sealed for _, sealed in _physical_order(world.db, "pool_submission", world.round.id)}
    release_round(world.db, world.keys, world.round.id)
    with world.db.session() as session:
        responses = session.exec(select(Response)).all()
    assert len(responses) == 7  # everyone answered: J + 2 = 3 are left out
    assert all(isinstance(r.id, uuid.UUID) and r.id.version == 4 for r in responses)
    assert {len(r.sealed) for r in responses} == {SEALED_BYTES}
    assert {len(p) for p in pool} == {SEALED_BYTES}
    assert not pool & {r.sealed for r in responses}
    # No shared 32-byte window either: re-sealing changed every byte that carries the answer.
    windows = {p[i : i + 32] for p in pool for i in range(0, SEALED_BYTES - 32, 32)}
    assert not any(
        r.sealed[i : i + 32] in windows for r in responses for i in range(0, SEALED_BYTES - 32, 32)
    )


def test_release_is_idempotent(make_world) -> None:
    world = make_world((8,))
    _submit_in_order(world)
    first = release_round(world.db, world.keys, world.round.id)
    again = release_round(world.db, world.keys, world.round.id)
    assert again.already_closed
    assert again.per_unit == first.per_unit
    with world.db.session() as session:
        assert len(session.exec(select(Response)).all()) == 5  # all eight answered: 3 left out


def test_release_without_private_key_changes_nothing(make_world, settings) -> None:
    world = make_world((6,))
    _submit_in_order(world)
    key_paths(settings).report_private(world.round.report_key_id).unlink()
    from survey.crypto import KeyRing  # a fresh ring: the old one may have cached nothing yet

    with pytest.raises(KeysMissingError, match="not available here"):
        release_round(world.db, KeyRing(key_paths(settings)), world.round.id)
    with world.db.session() as session:
        assert len(session.exec(select(PoolSubmission)).all()) == 6
        assert session.get(SurveyRound, world.round.id).state == RoundState.OPEN


def test_a_damaged_pool_row_stops_release_and_loses_nothing(make_world) -> None:
    world = make_world((6,))
    _submit_in_order(world)
    with world.db.session() as session:
        row = session.exec(select(PoolSubmission)).first()
        damaged = bytearray(row.sealed)
        damaged[200] ^= 1
        row.sealed = bytes(damaged)
    with pytest.raises(ReleaseError, match="does not open"):
        release_round(world.db, world.keys, world.round.id)
    with world.db.session() as session:
        assert len(session.exec(select(PoolSubmission)).all()) == 6
        assert len(session.exec(select(Participation)).all()) == 6
        assert session.exec(select(Response)).all() == []


def test_rounds_sealed_under_a_rotated_key_still_release(make_world, settings) -> None:
    world = make_world((8,))
    _submit_in_order(world)
    old_key = world.round.report_key_id
    new_key = rotate_report_key(key_paths(settings))
    assert new_key != old_key
    summary = release_round(world.db, world.keys, world.round.id)
    assert summary.respondents == 5  # all eight answered: three left out
    with world.db.session() as session:
        assert session.get(SurveyRound, world.round.id).report_key_id == old_key


def test_released_answers_are_exactly_the_submitted_ones(make_world) -> None:
    world = make_world((9, 8))
    _submit_in_order(world)
    release_round(world.db, world.keys, world.round.id)
    ranks = _answer_ranks(world, _physical_order(world.db, "response", world.round.id))
    # Both teams answered in full: three answers of each are left out, the rest exactly once.
    assert len(set(ranks)) == len(ranks) == 11
    assert set(ranks) <= set(range(17))
    assert math.isfinite(_spearman(ranks))


def test_a_one_person_unit_leaves_nothing_of_its_own_in_the_database(make_world) -> None:
    """Issue: round_unit_count and response.unit_id told, without any key, whether the only
    worker of a one-person unit answered; with the key, that person's answers could be read."""
    world = make_world((1, 6, 6))
    singleton = world.teams[0]
    for index, member in enumerate(world.members[:10]):  # the singleton and nine others
        submit(
            world.db,
            world.keys,
            member_id=member.id,
            round_id=world.round.id,
            answers=_answers(index),
        )
    release_round(world.db, world.keys, world.round.id)
    with world.db.session() as session:
        responses = session.exec(select(Response)).all()
        counts = session.exec(select(RoundUnitCount)).all()
    assert singleton.id not in {r.unit_id for r in responses}
    assert singleton.id not in {c.unit_id for c in counts}
    # Read with every key: answer sets only of groups of at least k.
    groups: dict[int, int] = {}
    for response in responses:
        groups[response.unit_id] = groups.get(response.unit_id, 0) + 1
    assert groups
    assert all(n >= world.round.min_group_size for n in groups.values())


def test_rounds_closed_before_groups_are_regrouped(make_world) -> None:
    """An installation upgraded from per-unit releases: `pulse rounds regroup`."""
    from aggregation.close import close_round
    from survey.submissions import regroup_closed_rounds

    world = make_world((1, 6, 6))
    for index, member in enumerate(world.members[:10]):
        submit(
            world.db,
            world.keys,
            member_id=member.id,
            round_id=world.round.id,
            answers=_answers(index),
        )
    close_round(world.db, world.keys, world.round.id)
    # As the old release left it: answers under their own units, no publication.
    with world.db.session() as session:
        survey_round = session.get(SurveyRound, world.round.id)
        published = survey_round.publication
        survey_round.publication = None
        for response in session.exec(select(Response)).all()[:1]:
            private = world.keys.report_private_key(world.round.report_key_id)
            plain = unseal(private, response.sealed, seal_context(world.round.id, response.unit_id))
            from survey.crypto import seal as seal_one

            response.unit_id = world.teams[0].id  # the singleton's own unit, in clear
            response.sealed = seal_one(
                private.public_key(), plain, seal_context(world.round.id, world.teams[0].id)
            )
    dry = regroup_closed_rounds(world.db, world.keys)
    assert [(r.round_id, r.responses, r.destroyed) for r in dry] == [(world.round.id, 10, 0)]
    regroup_closed_rounds(world.db, world.keys, apply=True)
    with world.db.session() as session:
        assert world.teams[0].id not in {r.unit_id for r in session.exec(select(Response)).all()}
        assert session.get(SurveyRound, world.round.id).publication == published
    assert regroup_closed_rounds(world.db, world.keys) == []


def _row_headers(world) -> dict[int, tuple[str, ...]]:
    """What the engine itself keeps on each member row: PostgreSQL's transaction ids and
    physical place, SQLite's rowid (its place in the table's order)."""
    if world.db.dialect == "postgresql":
        query = "SELECT id, xmin::text, xmax::text, ctid::text FROM member"
    else:
        query = "SELECT id, rowid FROM member"
    with world.db.engine.connect() as connection:
        return {row[0]: tuple(str(v) for v in row[1:]) for row in connection.execute(text(query))}


def _separates(headers: dict[int, tuple[str, ...]], answered: set[int], others: set[int]) -> list:
    """The system columns whose values tell a member who answered from one who did not:
    a value only answering members carry, or only non-answering ones."""
    found = []
    for column in range(len(next(iter(headers.values())))):
        if column == len(next(iter(headers.values()))) - 1:
            continue  # the row's place is judged by its order below
        yes = {headers[m][column] for m in answered}
        no = {headers[m][column] for m in others}
        if yes != no:
            found.append(column)
    return found


def test_row_headers_do_not_say_who_got_the_reminder(make_world) -> None:
    """The database holder after a clean close: each delivery row's foreign-key check locked
    its member's row and left its transaction id in xmax - the invitation's for members who
    answered, the reminder's for those who did not. After close, no system column of the
    member table separates the two, before and after results go out, with a member who turned
    results off; and the rows keep the order they had before the round (ctid, rowid)."""
    world = make_world((8, 8))
    set_wants_results(world.db, world.members[0].id, False)
    set_wants_results(world.db, world.members[15].id, False)
    order_before = sorted(_row_headers(world), key=lambda m: _place(_row_headers(world)[m]))
    everyone = {m.id for m in world.members}
    # The invitation: one transaction for all (the bot records a batch together).
    claim_many(world.db, [Claim(Kind.INVITATION, world.round.id, m.id) for m in world.members])
    answering = world.members[:11]
    _submit_in_order(world, answering)
    for member in world.members[11:]:  # the reminder, to those who had not answered
        claim_many(world.db, [Claim(Kind.REMINDER, world.round.id, member.id)])
    answered = {m.id for m in answering}
    if world.db.dialect == "postgresql":
        # The attack works before the close: xmax tells the two groups apart.
        assert _separates(_row_headers(world), answered, everyone - answered)
    release_round(world.db, world.keys, world.round.id)
    headers = _row_headers(world)
    assert _separates(headers, answered, everyone - answered) == []
    order_after = sorted(headers, key=lambda m: _place(headers[m]))
    assert [m for m in order_after if m in everyone] == [m for m in order_before if m in everyone]
    # Results go to everyone who wants them (answered or not): still nothing to tell apart.
    opted_out = {world.members[0].id, world.members[15].id}  # one answered, one did not
    claim_many(
        world.db,
        [Claim(Kind.RESULTS, world.round.id, m) for m in sorted(everyone - opted_out)],
    )
    assert _separates(_row_headers(world), answered, everyone - answered) == []


def _place(header: tuple[str, ...]) -> tuple[int, ...]:
    """A row's physical place: PostgreSQL's ctid "(page,item)", SQLite's rowid."""
    last = header[-1].strip("()")
    return tuple(int(part) for part in last.split(","))
