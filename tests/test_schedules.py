"""Schedules as pure functions: DST, skip dates, cadences, and what is due when."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from survey.schedules import (
    RoundState,
    ScheduleSpec,
    ScheduleState,
    due_at,
    occurrences,
    parse_duration_hours,
    parse_weekday,
)

MONDAY_9 = ScheduleSpec(weekday=0, local_time=time(9, 0), starts_on=date(2026, 1, 1))


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_local_time_holds_across_spring_and_autumn_dst() -> None:
    # Last Sunday of March 2026 is the 29th; of October, the 25th.
    march = occurrences(MONDAY_9, _utc(2026, 3, 20), _utc(2026, 4, 2))
    assert march == [_utc(2026, 3, 23, 8), _utc(2026, 3, 30, 7)]
    october = occurrences(MONDAY_9, _utc(2026, 10, 16), _utc(2026, 10, 29))
    assert october == [_utc(2026, 10, 19, 7), _utc(2026, 10, 26, 8)]


def test_a_sunday_round_on_the_dst_nights_still_happens() -> None:
    spec = ScheduleSpec(weekday=6, local_time=time(2, 30), starts_on=date(2026, 1, 1))
    spring = occurrences(spec, _utc(2026, 3, 28), _utc(2026, 3, 30))
    autumn = occurrences(spec, _utc(2026, 10, 24), _utc(2026, 10, 26))
    assert len(spring) == 1
    assert len(autumn) == 1
    assert autumn == [_utc(2026, 10, 25, 0, 30)]  # the first of the two 02:30s


def test_skip_dates_and_ranges() -> None:
    spec = MONDAY_9.model_copy(update={"skip": ("2026-12-28", "2026-07-06/2026-08-02")})
    summer = occurrences(spec, _utc(2026, 6, 29), _utc(2026, 8, 11))
    assert [d.date() for d in summer] == [date(2026, 6, 29), date(2026, 8, 3), date(2026, 8, 10)]
    assert occurrences(spec, _utc(2026, 12, 27), _utc(2026, 12, 30)) == []


def test_biweekly_and_monthly() -> None:
    biweekly = MONDAY_9.model_copy(update={"cadence": "biweekly", "starts_on": date(2026, 1, 5)})
    dates = [d.date() for d in occurrences(biweekly, _utc(2026, 1, 1), _utc(2026, 2, 10))]
    assert dates == [date(2026, 1, 5), date(2026, 1, 19), date(2026, 2, 2)]
    monthly = MONDAY_9.model_copy(update={"cadence": "monthly"})
    dates = [d.date() for d in occurrences(monthly, _utc(2026, 1, 1), _utc(2026, 4, 1))]
    assert dates == [date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2)]


def test_nothing_before_the_start_date() -> None:
    spec = MONDAY_9.model_copy(update={"starts_on": date(2026, 11, 25)})
    assert [d.date() for d in occurrences(spec, _utc(2026, 11, 1), _utc(2026, 12, 8))] == [
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValidationError, match="before the round closes"):
        ScheduleSpec(open_hours=24, remind_after_hours=24, starts_on=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        ScheduleSpec(skip=("24/12",), starts_on=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="unknown timezone"):
        ScheduleSpec(timezone="Europe/Stokholm", starts_on=date(2026, 1, 1))
    with pytest.raises(ValueError, match="mon, tue"):
        parse_weekday("monday-ish")
    assert parse_weekday("Monday") == 0
    assert (
        parse_duration_hours("72h"),
        parse_duration_hours("3d"),
        parse_duration_hours("2w"),
    ) == (72, 72, 336)


SCHEDULE = ScheduleState(1, MONDAY_9)
OPENS = _utc(2026, 11, 23, 8)  # Monday 09:00 in Stockholm


def _round(**changes: Any) -> RoundState:
    values: dict[str, Any] = {
        "round_id": 10,
        "schedule_id": 1,
        "opens_at": OPENS,
        "closes_at": OPENS + timedelta(hours=72),
        "remind_at": OPENS + timedelta(hours=24),
        "reminded": False,
        "open": True,
    }
    values.update(changes)
    return RoundState(**values)


def test_a_round_is_due_to_open_once() -> None:
    first = due_at(OPENS, [SCHEDULE], [])
    assert [(o.opens_at, o.closes_at, o.remind_at) for o in first.open] == [
        (OPENS, OPENS + timedelta(hours=72), OPENS + timedelta(hours=24))
    ]
    assert due_at(OPENS, [SCHEDULE], [_round()]).empty
    assert due_at(OPENS - timedelta(seconds=1), [SCHEDULE], []).empty


def test_restart_in_the_middle_of_the_window_opens_with_the_original_times() -> None:
    later = OPENS + timedelta(hours=30)
    plan = due_at(later, [SCHEDULE], [])
    assert [(o.opens_at, o.closes_at) for o in plan.open] == [(OPENS, OPENS + timedelta(hours=72))]
    assert due_at(OPENS + timedelta(hours=72), [SCHEDULE], []).open == []  # window over: missed


def test_reminder_once_then_close() -> None:
    assert due_at(OPENS + timedelta(hours=23), [SCHEDULE], [_round()]).remind == []
    assert [
        r.round_id for r in due_at(OPENS + timedelta(hours=24), [SCHEDULE], [_round()]).remind
    ] == [10]
    assert due_at(OPENS + timedelta(hours=25), [SCHEDULE], [_round(reminded=True)]).remind == []
    closing = due_at(OPENS + timedelta(hours=72), [SCHEDULE], [_round()])
    assert [c.round_id for c in closing.close] == [10]
    assert closing.remind == []  # no reminder for a round that is closing
    assert due_at(OPENS + timedelta(hours=80), [SCHEDULE], [_round(open=False)]).empty


def test_paused_schedules_open_nothing() -> None:
    assert due_at(OPENS, [ScheduleState(1, MONDAY_9, active=False)], []).empty
