"""Units and members: tree operations, moving, pausing, leaving (answers stay, unlinkable)."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from survey.enrolment import (
    EnrolmentError,
    archive_unit,
    create_unit,
    enrol_member,
    find_member,
    leave,
    member_chat_id,
    move_member,
    move_unit,
    rename_unit,
    set_status,
    unit_tree,
)
from survey.lifecycle import recipients
from survey.questions import LockedItem
from survey.storage.models import MemberStatus, Response
from survey.submissions import AlreadyAnsweredError, release_round, submit

ANSWER = {"behind": 2, "stress": 2, "support": 4}


def test_tree_operations(db) -> None:
    top = create_unit(db, "Socialförvaltningen", kind="forvaltning")
    ifo = create_unit(db, "IFO", parent_id=top.id, kind="avdelning")
    team = create_unit(db, "Team Syd", parent_id=ifo.id, kind="team")
    rename_unit(db, team.id, "Team Söder")
    with pytest.raises(EnrolmentError, match="cannot move under itself"):
        move_unit(db, ifo.id, team.id)
    move_unit(db, team.id, top.id)
    nodes = unit_tree(db, min_group_size=5)
    assert [(n.unit.name, n.depth) for n in nodes] == [
        ("Socialförvaltningen", 0),
        ("IFO", 1),
        ("Team Söder", 1),
    ]
    archive_unit(db, team.id)
    assert "Team Söder" not in [n.unit.name for n in unit_tree(db, 5)]
    with pytest.raises(EnrolmentError, match="active sub-units"):
        archive_unit(db, top.id)
    with pytest.raises(EnrolmentError, match="does not exist"):
        rename_unit(db, 999, "x")


def test_member_counts_below_k_are_not_shown(db, keys) -> None:
    small = create_unit(db, "Liten")
    large = create_unit(db, "Stor")
    for i in range(4):
        enrol_member(db, keys, telegram_user_id=100 + i, chat_id=100 + i, unit_id=small.id)
    for i in range(5):
        enrol_member(db, keys, telegram_user_id=200 + i, chat_id=200 + i, unit_id=large.id)
    counts = {n.unit.name: n.members for n in unit_tree(db, min_group_size=5)}
    assert counts == {"Liten": None, "Stor": 5}
    with pytest.raises(EnrolmentError, match="still has members"):
        archive_unit(db, small.id)


def test_move_pause_resume_and_chat_id(db, keys, make_world) -> None:
    world = make_world((5, 5))
    member = world.members[0]
    assert member_chat_id(keys, member) == world.telegram_ids[0]
    move_member(db, member.id, world.teams[1].id)
    moved = find_member(db, keys, world.telegram_ids[0])
    assert moved is not None
    assert moved.unit_id == world.teams[1].id
    set_status(db, member.id, MemberStatus.PAUSED)
    assert member.id not in {m.id for m in recipients(db, world.round.id, only_unanswered=False)}
    set_status(db, member.id, MemberStatus.ACTIVE)
    assert member.id in {m.id for m in recipients(db, world.round.id, only_unanswered=False)}


def test_leaving_keeps_answers_and_rejoining_cannot_answer_twice(db, keys, make_world) -> None:
    world = make_world(
        (8,),
        items=[LockedItem(key=k, options=(1, 2, 3, 4, 5)) for k in ("behind", "stress", "support")],
    )
    member, telegram_id = world.members[0], world.telegram_ids[0]
    for someone in world.members[:5]:  # five of eight answer: enough for the answers to be kept
        submit(db, keys, member_id=someone.id, round_id=world.round.id, answers=ANSWER)
    leave(db, member.id)
    assert find_member(db, keys, telegram_id) is None
    again = enrol_member(
        db, keys, telegram_user_id=telegram_id, chat_id=telegram_id, unit_id=world.teams[0].id
    )
    with pytest.raises(AlreadyAnsweredError):
        submit(db, keys, member_id=again.id, round_id=world.round.id, answers=ANSWER)
    leave(db, again.id)
    release_round(db, keys, world.round.id)
    with db.session() as session:  # the answer of the one who left stays, once
        assert session.exec(select(func.count()).select_from(Response)).one() == 5


def test_unit_names_are_bounded_and_plain(db) -> None:
    from survey.enrolment import MAX_UNIT_NAME, EnrolmentError

    assert create_unit(db, "  Team [/bold] Norr  ").name == "Team [/bold] Norr"  # kept as given
    with pytest.raises(EnrolmentError, match="at most 100"):
        create_unit(db, "x" * (MAX_UNIT_NAME + 1))
    with pytest.raises(EnrolmentError, match="control characters"):
        create_unit(db, "Evil \x1b[31m red")


def test_sub_tree_counts_never_let_a_small_count_be_worked_out(db, keys) -> None:
    """IFO has 9 workers in two teams of 4 and 5. Showing "IFO 9" and "Team B 5" would give
    Team A's 4 by subtraction: Team B is not shown either, and says why."""
    ifo = create_unit(db, "IFO")
    team_a = create_unit(db, "Team A", parent_id=ifo.id)
    team_b = create_unit(db, "Team B", parent_id=ifo.id)
    for i in range(4):
        enrol_member(db, keys, telegram_user_id=300 + i, chat_id=300 + i, unit_id=team_a.id)
    for i in range(5):
        enrol_member(db, keys, telegram_user_id=400 + i, chat_id=400 + i, unit_id=team_b.id)
    nodes = {n.unit.name: n for n in unit_tree(db, min_group_size=5)}
    assert nodes["IFO"].members == 9  # the sub-tree, not the 0 workers attached to IFO itself
    assert (nodes["Team A"].members, nodes["Team A"].too_few) == (None, True)
    assert (nodes["Team B"].members, nodes["Team B"].too_few) == (None, False)
    for i in range(4):  # four more join Team A: now every count may be shown
        enrol_member(db, keys, telegram_user_id=500 + i, chat_id=500 + i, unit_id=team_a.id)
    nodes = {n.unit.name: n for n in unit_tree(db, min_group_size=5)}
    assert [nodes[name].members for name in ("IFO", "Team A", "Team B")] == [13, 8, 5]
