"""Schedules in local time, and which rounds are due: pure functions of (schedules, rounds, now).

Times are local to the schedule's timezone, so "Monday 09:00" stays 09:00 across daylight-saving
changes (in Europe/Stockholm the UTC instant moves by an hour on the last Sundays of March and
October). A local time that does not exist on a spring-forward night is taken as the same
wall-clock time in the offset before the change (Python's zoneinfo rule); one that occurs twice
in autumn is the first of the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from survey.settings import known_timezone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Cadence = Literal["weekly", "biweekly", "monthly"]
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:/(\d{4}-\d{2}-\d{2}))?$")


class ScheduleSpec(BaseModel):
    """What an admin sets for a unit sub-tree; validated before it is stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cadence: Cadence = "weekly"
    weekday: int = Field(default=0, ge=0, le=6)
    local_time: time = time(9, 0)
    timezone: str = "Europe/Stockholm"
    open_hours: int = Field(default=72, ge=1, le=24 * 14)
    remind_after_hours: int = Field(default=24, ge=0)
    #: Dates without a round: "2026-12-24" or ranges "2026-07-06/2026-08-02" (inclusive).
    skip: tuple[str, ...] = ()
    starts_on: date

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("skip")
    @classmethod
    def _skip_dates(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            match = _RANGE.match(value)
            if not match:
                raise ValueError(f"skip {value!r}: use YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD")
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2) or match.group(1))
            if last < first:
                raise ValueError(f"skip {value!r}: the range ends before it starts")
        return values

    @model_validator(mode="after")
    def _reminder_inside_window(self) -> ScheduleSpec:
        if self.remind_after_hours >= self.open_hours:
            raise ValueError(
                f"the reminder ({self.remind_after_hours} h) must come before the round closes "
                f"({self.open_hours} h after it opens)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def skipped(self, day: date) -> bool:
        for value in self.skip:
            match = _RANGE.match(value)
            assert match is not None
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2) or match.group(1))
            if first <= day <= last:
                return True
        return False


_WEEKDAY_NAMES = {
    name: index
    for index, names in enumerate(
        [
            ("mon", "monday", "mån", "måndag"),
            ("tue", "tuesday", "tis", "tisdag"),
            ("wed", "wednesday", "ons", "onsdag"),
            ("thu", "thursday", "tor", "torsdag"),
            ("fri", "friday", "fre", "fredag"),
            ("sat", "saturday", "lör", "lördag"),
            ("sun", "sunday", "sön", "söndag"),
        ]
    )
    for name in names
}


def parse_weekday(value: str) -> int:
    """'mon', 'Monday', 'mån' or 'måndag' -> 0."""
    key = value.strip().lower()
    if key not in _WEEKDAY_NAMES:
        raise ValueError(f"weekday {value!r}: use one of {', '.join(WEEKDAYS)}")
    return _WEEKDAY_NAMES[key]


def parse_duration_hours(value: str) -> int:
    """'72h', '3d', '2w' -> hours."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", value.lower())
    if not match:
        raise ValueError(f"duration {value!r}: use hours, days or weeks, e.g. 72h, 3d, 2w")
    number, unit = int(match.group(1)), match.group(2)
    return number * {"h": 1, "d": 24, "w": 24 * 7}[unit]


def occurrences(spec: ScheduleSpec, start: datetime, end: datetime) -> list[datetime]:
    """Opening instants (UTC) of the schedule's rounds in [start, end)."""
    zone = spec.zone
    first_day = max(start.astimezone(zone).date() - timedelta(days=1), spec.starts_on)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    anchor = _first_weekday_on_or_after(spec.starts_on, spec.weekday)
    found = []
    day = first_day
    while day <= last_day:
        wanted = day.weekday() == spec.weekday and _cadence_matches(spec, day, anchor)
        if wanted and not spec.skipped(day):
            instant = datetime.combine(day, spec.local_time, tzinfo=zone).astimezone(UTC)
            if start <= instant < end:
                found.append(instant)
        day += timedelta(days=1)
    return found


def _first_weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _cadence_matches(spec: ScheduleSpec, day: date, anchor: date) -> bool:
    if day < anchor:
        return False
    if spec.cadence == "weekly":
        return True
    if spec.cadence == "biweekly":
        return ((day - anchor).days // 7) % 2 == 0
    return day.day <= 7  # monthly: the first such weekday of each month


@dataclass(frozen=True)
class ScheduleState:
    schedule_id: int
    spec: ScheduleSpec
    active: bool = True


@dataclass(frozen=True)
class RoundState:
    round_id: int
    schedule_id: int | None
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime | None
    reminded: bool
    open: bool


@dataclass(frozen=True)
class OpenDue:
    schedule_id: int
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime


@dataclass(frozen=True)
class RemindDue:
    round_id: int


@dataclass(frozen=True)
class CloseDue:
    round_id: int


@dataclass(frozen=True)
class Due:
    open: list[OpenDue]
    remind: list[RemindDue]
    close: list[CloseDue]

    @property
    def empty(self) -> bool:
        return not (self.open or self.remind or self.close)


def due_at(now: datetime, schedules: list[ScheduleState], rounds: list[RoundState]) -> Due:
    """What should happen at ``now``. Pure and idempotent: once a round exists for an
    occurrence it is never due to open again, so asking twice (or after a restart) opens
    nothing twice; an occurrence whose whole window passed while nothing ran is not opened late.
    """
    existing = {(r.schedule_id, r.opens_at) for r in rounds}
    to_open = []
    for schedule in schedules:
        if not schedule.active:
            continue
        window = timedelta(hours=schedule.spec.open_hours)
        for opens_at in occurrences(schedule.spec, now - window, now + timedelta(microseconds=1)):
            if (
                schedule.schedule_id,
                opens_at,
            ) in existing or not opens_at <= now < opens_at + window:
                continue
            to_open.append(
                OpenDue(
                    schedule.schedule_id,
                    opens_at,
                    opens_at + window,
                    opens_at + timedelta(hours=schedule.spec.remind_after_hours),
                )
            )
    to_close = [CloseDue(r.round_id) for r in rounds if r.open and now >= r.closes_at]
    closing = {c.round_id for c in to_close}
    to_remind = [
        RemindDue(r.round_id)
        for r in rounds
        if r.open
        and not r.reminded
        and r.remind_at is not None
        and r.remind_at <= now
        and r.round_id not in closing
    ]
    return Due(to_open, to_remind, to_close)
