"""Actions and their follow-up question on a real database, and the attacks on them.

The follow-up question is asked of one unit's sub-tree only; the attack that matters is the
database holder with every key who reads released answers: a follow-up answer stored under a
group wider than the action's unit would tell where that answer came from (P1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from aggregation.close import close_round
from survey.actions import (
    ActionError,
    add_comment,
    followup_key,
    list_actions,
    mark_overdue_reminded,
    overdue_reminders,
    record_action,
    set_action_status,
)
from survey.crypto import Unsealer, seal_context
from survey.enrolment import create_unit, enrol_member
from survey.lifecycle import create_schedule, tick
from survey.questions import import_question_set, load_question_set_file, parse_items
from survey.schedules import ScheduleSpec
from survey.storage.models import (
    Action,
    ActionStatus,
    Response,
    Role,
    RoundStatistic,
    SurveyRound,
)
from survey.submissions import SubmissionError, decode_answers, submit

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"
MONDAY = datetime(2026, 10, 5, 7, tzinfo=UTC)  # 09:00 in Stockholm
TODAY = date(2026, 10, 1)


@pytest.fixture
def org(db, keys):
    """IFO with two teams of eight: Familjehem and Barn och unga; one weekly schedule for IFO."""
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    root = create_unit(db, "IFO")
    foster = create_unit(db, "Familjehem", parent_id=root.id, kind="team")
    children = create_unit(db, "Barn och unga", parent_id=root.id, kind="team")
    members = {
        team.id: [
            enrol_member(db, keys, telegram_user_id=base + i, chat_id=base + i, unit_id=team.id)
            for i in range(8)
        ]
        for team, base in ((foster, 800), (children, 900))
    }
    manager = enrol_member(
        db, keys, telegram_user_id=999, chat_id=999, unit_id=foster.id, role=Role.MANAGER
    )
    spec = ScheduleSpec(
        weekday=0, local_time=time(9), open_hours=72, remind_after_hours=24, starts_on=TODAY
    )
    create_schedule(db, unit_id=root.id, question_sets=["social-work-weekly"], spec=spec)
    return root, foster, children, members, manager


def _action(db, unit_id, **overrides) -> Action:
    fields = {
        "unit_id": unit_id,
        "title": "Mentor för nya socionomer",
        "owner": "Enhetschef",
        "due_on": TODAY + timedelta(days=14),
        "today": TODAY,
        "construct": "support",
    }
    return record_action(db, **(fields | overrides))


def test_an_action_is_recorded_listed_moved_and_commented(db, org) -> None:
    _root, foster, children, _, manager = org
    action = _action(db, foster.id, created_by=manager.id, title="  Mentor   för nya  ")
    assert action.title == "Mentor för nya"  # the manager's words, tidied
    assert action.status == ActionStatus.PLANNED
    scope = {foster.id}
    set_action_status(db, action.id, ActionStatus.ONGOING, scope=scope, today=TODAY)
    add_comment(
        db, action.id, role=Role.SAFETY_REP, text="Bra, följ upp i APT", scope=scope, today=TODAY
    )
    done = set_action_status(
        db, action.id, ActionStatus.DONE, scope=scope, today=TODAY + timedelta(days=3)
    )
    assert done.done_on == TODAY + timedelta(days=3)
    [view] = list_actions(db, scope)
    assert view.unit_name == "Familjehem"
    assert [c.text for c in view.comments] == ["Bra, följ upp i APT"]
    assert list_actions(db, {children.id}) == []  # another unit's staff see nothing


def test_actions_refuse_bad_input_and_other_units(db, org) -> None:
    _, foster, children, _, _ = org
    with pytest.raises(ActionError, match="Say what will be done"):
        _action(db, foster.id, title="   ")
    with pytest.raises(ActionError, match="At most 200"):
        _action(db, foster.id, title="x" * 201)
    with pytest.raises(ActionError, match="due date has passed"):
        _action(db, foster.id, due_on=TODAY - timedelta(days=1))
    with pytest.raises(ActionError, match="only the units you were given"):
        _action(db, foster.id, scope={children.id})  # another unit's manager records none here
    action = _action(db, foster.id)
    # Another unit's manager cannot move or comment on it, nor learn that it exists.
    for attempt in (
        lambda: set_action_status(
            db, action.id, ActionStatus.DONE, scope={children.id}, today=TODAY
        ),
        lambda: add_comment(
            db, action.id, role=Role.SAFETY_REP, text="x", scope={children.id}, today=TODAY
        ),
        lambda: set_action_status(db, 9999, ActionStatus.DONE, scope={children.id}, today=TODAY),
    ):
        with pytest.raises(ActionError, match="no such action among your units"):
            attempt()


def test_an_overdue_action_is_reminded_once(db, org) -> None:
    _, foster, _, _, manager = org
    action = _action(db, foster.id, created_by=manager.id, due_on=TODAY + timedelta(days=2))
    assert overdue_reminders(db, TODAY + timedelta(days=2)) == []  # due today: not yet overdue
    [reminder] = overdue_reminders(db, TODAY + timedelta(days=3))
    assert reminder.action.id == action.id
    assert reminder.manager_ids == (manager.id,)
    mark_overdue_reminded(db, action.id)
    assert overdue_reminders(db, TODAY + timedelta(days=30)) == []
    overdue = list_actions(db, overdue_on=TODAY + timedelta(days=3))
    assert [v.action.id for v in overdue] == [action.id]


def _open(db, keys, settings, week: int) -> SurveyRound:
    report = tick(db, keys, settings, MONDAY + timedelta(weeks=week))
    assert report.opened, report.failed
    with db.session() as session:
        survey_round = session.get(SurveyRound, report.opened[0])
        session.expunge(survey_round)
    return survey_round


def test_a_done_action_is_followed_up_in_its_units_next_check_in(db, keys, settings, org) -> None:
    _root, foster, children, members, _ = org
    action = _action(db, foster.id)
    set_action_status(db, action.id, ActionStatus.DONE, scope={foster.id}, today=TODAY)
    survey_round = _open(db, keys, settings, 0)
    items = parse_items(survey_round.items)
    followup = next(i for i in items if i.key == followup_key(action.id))
    assert followup.followup == "Mentor för nya socionomer"
    assert not followup.required
    assert followup.asks(foster.id)
    assert not followup.asks(children.id)
    assert len(items) <= settings.max_items_per_checkin
    # A worker outside the action's unit cannot answer it (a forged check-in).
    base = {i.key: i.options[-1] for i in items if i.required}
    with pytest.raises(SubmissionError, match="not asked of you"):
        submit(
            db,
            keys,
            member_id=members[children.id][0].id,
            round_id=survey_round.id,
            answers=base | {followup.key: 5},
            now=MONDAY + timedelta(hours=1),
        )
    # Asked once: the next round does not ask it again.
    tick(db, keys, settings, MONDAY + timedelta(days=3))
    later = parse_items(_open(db, keys, settings, 1).items)
    assert followup_key(action.id) not in {i.key for i in later}


def test_the_follow_up_is_published_for_the_unit_under_k_rules(db, keys, settings, org) -> None:
    _root, foster, children, members, _ = org
    action = _action(db, foster.id)
    set_action_status(db, action.id, ActionStatus.DONE, scope={foster.id}, today=TODAY)
    survey_round = _open(db, keys, settings, 0)
    items = parse_items(survey_round.items)
    key = followup_key(action.id)
    for team, worker_answers in ((foster, (4, 3, 4, 2, 3)), (children, (None,) * 5)):
        for member, answer in zip(members[team.id], worker_answers, strict=False):
            answers = {i.key: i.options[1] for i in items if i.required}
            if answer is not None:
                answers[key] = answer
            submit(
                db,
                keys,
                member_id=member.id,
                round_id=survey_round.id,
                answers=answers,
                now=MONDAY + timedelta(hours=1),
            )
    close_round(db, keys, survey_round.id, now=MONDAY + timedelta(days=3))
    with db.session() as session:
        figures = {
            row.unit_id: row.figures
            for row in session.exec(
                select(RoundStatistic).where(RoundStatistic.round_id == survey_round.id)
            )
        }
    entry = figures[foster.id]["items"][key]
    assert entry["n"] == 5
    low, high = entry["mean"]
    assert low == high == pytest.approx((3 + 2 + 3 + 1 + 2) / 5 / 4 * 100)  # 1..5 on 0..100
    assert key not in figures[children.id]["items"]  # never asked there
    # No construct index is made of a follow-up question.
    assert all(
        not c.startswith("followup") for f in figures.values() for c in f.get("constructs", {})
    )


def test_no_follow_up_answer_is_stored_under_a_wider_group(db, keys, settings, org) -> None:
    """The database holder with every key: Familjehem has too few answers to be its own group,
    so its answers are stored under IFO; had they kept the follow-up answer, each such
    response would say "I am from Familjehem"."""
    root, foster, children, members, _ = org
    action = _action(db, foster.id)
    set_action_status(db, action.id, ActionStatus.DONE, scope={foster.id}, today=TODAY)
    survey_round = _open(db, keys, settings, 0)
    items = parse_items(survey_round.items)
    key = followup_key(action.id)
    # Three answer in each team: neither team can be shown, IFO can (six).
    answering = [*members[foster.id][:3], *members[children.id][:3]]
    for member in answering:
        answers = {i.key: i.options[0] for i in items if i.required}
        if member.unit_id == foster.id:
            answers[key] = 2
        submit(
            db,
            keys,
            member_id=member.id,
            round_id=survey_round.id,
            answers=answers,
            now=MONDAY + timedelta(hours=1),
        )
    close_round(db, keys, survey_round.id, now=MONDAY + timedelta(days=3))
    unsealer = Unsealer(keys.report_private_key(survey_round.report_key_id))
    with db.session() as session:
        rows = session.exec(select(Response).where(Response.round_id == survey_round.id)).all()
    assert {row.unit_id for row in rows} == {root.id}
    # IFO publishes at most its cap: 17 members - (J + 2) - what the quiet teams may hide
    # (4 + 5 beyond k - 1) = 5, so one of the six answers is left out.
    assert len(rows) == 5
    for row in rows:
        answers = decode_answers(
            unsealer.unseal(row.sealed, seal_context(survey_round.id, row.unit_id))
        )
        assert key not in answers


def test_a_note_is_the_units_own_managers_and_only_before_the_results_go_out(
    db, keys, make_world
) -> None:
    """The rule the chat's /note and the dashboard share (survey.actions.write_note): a
    manager of another unit, a safety representative and a note after the first results left
    are all refused, and nothing is stored."""
    from survey.actions import ActionError, NoteTooLateError, write_note
    from survey.claims import Claim, Kind, claim_many
    from survey.storage.models import RoundNote

    world = make_world((6, 6))
    team_a, team_b = world.teams
    manager_a, manager_b, safety_a = (
        enrol_member(db, keys, telegram_user_id=u, chat_id=u, unit_id=unit.id, role=role)
        for u, unit, role in (
            (41, team_a, Role.MANAGER),
            (42, team_b, Role.MANAGER),
            (43, team_a, Role.SAFETY_REP),
        )
    )
    round_id = world.round.id
    for writer in (manager_b, safety_a):
        with pytest.raises(ActionError, match="own manager"):
            write_note(db, writer=writer, unit_id=team_a.id, round_id=round_id, text="Hej")
    write_note(db, writer=manager_a, unit_id=team_a.id, round_id=round_id, text="Tack!")
    claim_many(db, [Claim(Kind.RESULTS, round_id, world.members[0].id)])
    with pytest.raises(NoteTooLateError):
        write_note(db, writer=manager_a, unit_id=team_a.id, round_id=round_id, text="Sent")
    with db.session() as session:
        assert [(n.unit_id, n.text) for n in session.exec(select(RoundNote)).all()] == [
            (team_a.id, "Tack!")
        ]
