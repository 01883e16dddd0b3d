"""The round lifecycle on a real database: eight weekly rounds, reminders, restarts, closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from survey.crypto import KeyPaths, KeyRing
from survey.enrolment import create_unit, enrol_member
from survey.lifecycle import (
    ScheduleError,
    create_schedule,
    due,
    mark_reminded,
    open_scheduled_round,
    recipients,
    tick,
    update_schedule,
)
from survey.questions import (
    import_question_set,
    items_for_round,
    load_question_set_file,
    parse_items,
)
from survey.schedules import ScheduleSpec
from survey.storage.models import SurveyRound
from survey.submissions import submit

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"
FIRST_MONDAY = datetime(2026, 10, 5, 7, tzinfo=UTC)  # 09:00 in Stockholm (summer time)


@pytest.fixture
def org(db, keys):
    default = load_question_set_file(SETS / "social-work-weekly.yaml")
    import_question_set(db, default)
    import_question_set(db, load_question_set_file(SETS / "who5.yaml"))
    root = create_unit(db, "IFO")
    team = create_unit(db, "Barn och unga", parent_id=root.id, kind="team")
    members = [
        enrol_member(db, keys, telegram_user_id=700 + i, chat_id=700 + i, unit_id=team.id)
        for i in range(8)
    ]
    spec = ScheduleSpec(
        weekday=0,
        local_time=time(9),
        open_hours=72,
        remind_after_hours=24,
        starts_on=date(2026, 10, 1),
    )
    schedule = create_schedule(db, unit_id=root.id, question_sets=["social-work-weekly"], spec=spec)
    return default, root, team, members, schedule


def _answers(items) -> dict[str, object]:
    return {item.key: item.options[0] for item in items}


def _round(db, round_id: int) -> SurveyRound:
    with db.session() as session:
        return session.get(SurveyRound, round_id)


def test_eight_weeks_of_rounds(db, keys, settings, org) -> None:
    default, _, _, members, _ = org
    for week in range(8):
        opens = FIRST_MONDAY + timedelta(weeks=week)
        if week >= 3:
            opens += timedelta(hours=1)  # winter time from 25 October: 09:00 is 08:00 UTC
        report = tick(db, keys, settings, opens)
        assert len(report.opened) == 1, week
        assert tick(db, keys, settings, opens).opened == []  # asking twice opens nothing twice
        survey_round = _round(db, report.opened[0])
        assert survey_round.sequence == week
        assert survey_round.opens_at == opens
        items = parse_items(survey_round.items)
        assert [i.key for i in items] == [i.key for i in items_for_round(default, week)]
        assert len(items) <= default.max_items_per_checkin
        for member in members[:5]:
            submit(
                db,
                keys,
                member_id=member.id,
                round_id=survey_round.id,
                answers=_answers(items),
                now=opens + timedelta(hours=1),
            )

        remind = tick(db, keys, settings, opens + timedelta(hours=24))
        assert remind.to_remind == [survey_round.id]
        pending = recipients(db, survey_round.id, only_unanswered=True)
        # only those who have not answered
        assert [m.id for m in pending] == [m.id for m in members[5:]]
        assert len(recipients(db, survey_round.id, only_unanswered=False)) == 8
        mark_reminded(db, survey_round.id, opens + timedelta(hours=24))
        assert tick(db, keys, settings, opens + timedelta(hours=25)).to_remind == []

        closed = tick(db, keys, settings, opens + timedelta(hours=72))
        assert [c.respondents for c in closed.closed] == [5]
        assert recipients(db, survey_round.id, only_unanswered=True) == []


def test_restart_mid_window_opens_with_original_times_and_nothing_twice(
    db, keys, settings, org
) -> None:
    late = FIRST_MONDAY + timedelta(hours=30)
    report = tick(db, keys, settings, late)
    survey_round = _round(db, report.opened[0])
    assert survey_round.opens_at == FIRST_MONDAY
    assert survey_round.closes_at == FIRST_MONDAY + timedelta(hours=72)
    assert tick(db, keys, settings, late + timedelta(minutes=5)).opened == []
    assert tick(db, keys, settings, late).to_remind == [survey_round.id]  # reminder was due


def test_rules_are_locked_when_the_round_opens(db, keys, settings, org) -> None:
    _, root, team, _, _ = org
    report = tick(db, keys, settings, FIRST_MONDAY)
    survey_round = _round(db, report.opened[0])
    assert (survey_round.min_group_size, survey_round.spread_min_group_size) == (5, 10)
    assert survey_round.known_others == 1
    assert survey_round.member_counts == {str(root.id): 0, str(team.id): 8}
    assert len(survey_round.question_set_versions) == 1
    stricter = settings.model_copy(update={"min_group_size": 8, "known_others": 2})
    tick(db, keys, stricter, FIRST_MONDAY + timedelta(hours=1))
    assert _round(db, survey_round.id).min_group_size == 5
    assert _round(db, survey_round.id).known_others == 1


def test_close_without_the_private_key_is_reported_and_retried(
    db, keys, settings, org, tmp_path
) -> None:
    report = tick(db, keys, settings, FIRST_MONDAY)
    bot_only = KeyRing(KeyPaths(keys.paths.keys_dir, tmp_path / "elsewhere"))
    failed = tick(db, bot_only, settings, FIRST_MONDAY + timedelta(hours=72))
    assert failed.closed == []
    assert "could not close" in failed.failed[0]
    assert "PULSE_REPORT_PRIVATE_KEYS_DIR" in failed.failed[0]
    retried = tick(db, keys, settings, FIRST_MONDAY + timedelta(hours=73))
    assert [c.round_id for c in retried.closed] == report.opened


def test_paused_schedule_and_skip_dates(db, keys, settings, org) -> None:
    schedule = org[4]
    update_schedule(db, schedule.id, add_skip="2026-10-05")
    assert tick(db, keys, settings, FIRST_MONDAY).opened == []
    update_schedule(db, schedule.id, active=False)
    assert tick(db, keys, settings, FIRST_MONDAY + timedelta(weeks=1)).opened == []
    update_schedule(db, schedule.id, active=True)
    assert len(tick(db, keys, settings, FIRST_MONDAY + timedelta(weeks=1)).opened) == 1
    with db.session() as session:
        assert len(session.exec(select(SurveyRound)).all()) == 1


def test_schedules_check_their_sets(db, org) -> None:
    spec = ScheduleSpec(starts_on=date(2026, 10, 1))
    with pytest.raises(ScheduleError, match="no question set 'nonexistent'"):
        create_schedule(db, unit_id=org[1].id, question_sets=["nonexistent"], spec=spec)
    both = create_schedule(
        db, unit_id=org[1].id, question_sets=["social-work-weekly", "who5"], spec=spec
    )
    assert both.question_sets == ["social-work-weekly", "who5"]


def test_two_processes_opening_the_same_round_open_it_once(db, keys, settings, org) -> None:
    (item,) = due(db, FIRST_MONDAY).open
    first = open_scheduled_round(db, keys, settings, item)
    second = open_scheduled_round(db, keys, settings, item)  # the other process, a moment later
    assert first is not None
    assert second is None
    with db.session() as session:
        assert len(session.exec(select(SurveyRound)).all()) == 1
