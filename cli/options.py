"""Reading option values the way an operator writes them, with the option's own name and the
expected form in the one line a mistake gets ("--skip: 2026-13-01 is not a date (YYYY-MM-DD)").

Every parser raises ``OptionError``, which the CLI prints as one line with exit code 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from survey.roles import Role

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
EXAMPLE_INSTANT = "2026-12-07T09:00, or with a zone 2026-12-07T09:00+01:00"


class OptionError(ValueError):
    """An option's value is not of the form it needs; the message names both."""


def as_date(option: str, value: str) -> date:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise OptionError(f"{option}: {value} is not a date (YYYY-MM-DD)") from None


def as_dates(option: str, values: Iterable[str]) -> tuple[str, ...]:
    """Dates and ranges ("2026-12-24" or "2026-12-21/2027-01-03"), as given once checked."""
    checked = []
    for value in values:
        first, _, last = value.partition("/")
        start = as_date(option, first)
        if last and as_date(option, last) < start:
            raise OptionError(f"{option}: {value} ends before it starts")
        checked.append(value)
    return tuple(checked)


def as_time(option: str, value: str) -> time:
    match = _TIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        return time(int(match.group(1)), int(match.group(2)))
    except ValueError:
        raise OptionError(f"{option}: {value} is not a time of day (HH:MM, 00:00-23:59)") from None


def as_instant(option: str, value: str | None) -> datetime:
    """A moment in ISO 8601; without a zone it is read in UTC. Default: now."""
    if value is None:
        return datetime.now(UTC)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise OptionError(
            f"{option}: {value} is not a date and time that exists ({EXAMPLE_INSTANT})"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def as_role(option: str, value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise OptionError(f"{option}: {value} is not a role (one of {names})") from None
