"""Settings of the survey core, from ``PULSE_*`` environment variables and an optional ``.env``.

Every other package builds on these; nothing in the code base carries its own copy of a path, a
threshold or a timezone, so an operator can see and change the whole configuration in one place.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: P6: k may be configured, but never below this floor.
ABSOLUTE_MIN_GROUP_SIZE = 3
SUPPORTED_LANGUAGES = ("sv", "en")


def known_timezone(value: str) -> str:
    """Accept an IANA timezone name (Europe/Stockholm), refuse anything zoneinfo does not know."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
    return value


class SurveySettings(BaseSettings):
    """Where the data lives and which privacy thresholds new rounds lock in."""

    model_config = SettingsConfigDict(
        env_prefix="PULSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("pulse-data"),
        description="Directory for the embedded SQLite database and, by default, the keys.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file pulse.sqlite3 in the data directory. "
        "Production: postgresql+psycopg://user@host/dbname.",
    )
    keys_dir: Path | None = Field(
        default=None, description="Directory for the keys; default: <data_dir>/keys."
    )
    report_private_keys_dir: Path | None = Field(
        default=None,
        description="Directory holding report private keys; default: the keys directory. Point it "
        "at removable or separate storage so the bot's machine holds only public keys (P3).",
    )
    min_group_size: int = Field(
        default=5, description="k: fewest respondents for any figure to be shown (P6)."
    )
    known_others: int = Field(
        default=1,
        ge=1,
        description="J: how many colleagues' participation a reader may know besides their own "
        "(who was on leave this week); no publication lets such an insider tell whether anyone "
        "else answered or what (P6). Locked per round like k; at most PULSE_MIN_GROUP_SIZE - 3.",
    )
    spread_min_group_size: int = Field(
        default=10,
        description="Fewest respondents for the spread of answers (counts per option) and eNPS.",
    )
    timezone: str = Field(default="Europe/Stockholm", description="Default timezone of schedules.")
    change_spread: float = Field(
        default=25.0,
        gt=0,
        le=50,
        description="Spread (standard deviation, 0-100 index scale) against which reports judge "
        "whether a change is larger than chance for the group sizes; a fixed figure, never a "
        "group's own spread.",
    )
    max_items_per_checkin: int = Field(
        default=8,
        ge=1,
        le=20,
        description="Most questions one check-in may ask, all of a schedule's sets together; "
        "a schedule whose rotation would ask more is refused.",
    )
    results_delay_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 7,
        description="Hours after a round closed before workers get their group's results: time "
        "for the manager to read the report, add a note (/note) and record actions.",
    )
    talk_delivery_hour: int = Field(
        default=8,
        ge=0,
        le=23,
        description="Local hour (PULSE_TIMEZONE) at which the day's /talk requests go out, "
        "together, so a request's time says nothing about when its sender last answered.",
    )
    talk_cooldown_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Days a worker waits between two /talk requests (rate limit).",
    )
    prompt_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 7,
        description="Hours the bot keeps waiting for staff's typed answer (an action's words, a "
        "comment, a reply to a request to talk), across restarts; then it is forgotten.",
    )
    language: str = Field(default="sv", description="Default language (sv or en).")
    sqlite_synchronous: str = Field(
        default="FULL",
        description="SQLite PRAGMA synchronous. FULL makes an acknowledged answer survive a power "
        "cut; NORMAL is faster and still safe against process crashes.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=10_000, description="How long a SQLite writer waits for the lock before failing."
    )

    bot_username: str | None = Field(
        default=None,
        description="The bot's Telegram username (without @), for invite links t.me/<bot>?start=…",
    )
    invite_expiry_days: int = Field(
        default=14, ge=1, le=365, description="Default life of a worker invite."
    )
    staff_invite_expiry_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 14,
        description="Default life of a manager or admin invite (single use: one per person).",
    )
    invite_max_failures: int = Field(
        default=5, ge=1, description="Wrong invite codes one user may send per window."
    )
    invite_failure_window_minutes: int = Field(
        default=15, ge=1, description="Length of the wrong-invite-code window."
    )

    response_retention_days: int = Field(
        default=730,
        ge=1,
        description="Days raw sealed answers are kept after their round closed; statistics stay.",
    )
    staff_access_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days the dashboard's log of who opened which unit's page is kept.",
    )
    log_level: str = Field(
        default="INFO",
        description="Log level (DEBUG, INFO, WARNING, ERROR). Every level is redacted (P4).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as plain text or as JSON objects, one per line."
    )
    log_file: Path | None = Field(
        default=None, description="Write logs to this file, rotated by size; default: stderr."
    )
    log_max_bytes: int = Field(
        default=10_000_000, ge=10_000, description="Size at which the log file is rotated."
    )
    log_backups: int = Field(default=5, ge=0, description="Rotated log files kept.")

    def today(self, now: datetime) -> date:
        """The day it is at ``now`` where the organisation works (PULSE_TIMEZONE): due dates,
        overdue actions and the day of a request to talk are local days."""
        return now.astimezone(ZoneInfo(self.timezone)).date()

    @field_validator("min_group_size")
    @classmethod
    def _k_floor(cls, value: int) -> int:
        if value < ABSOLUTE_MIN_GROUP_SIZE:
            raise ValueError(
                f"PULSE_MIN_GROUP_SIZE must be at least {ABSOLUTE_MIN_GROUP_SIZE}, got {value}"
            )
        return value

    @field_validator(
        "database_url", "keys_dir", "report_private_keys_dir", "log_file", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`PULSE_LOG_FILE=` in a .env (as in the example file) means "not set"."""
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("sqlite_synchronous")
    @classmethod
    def _synchronous_mode(cls, value: str) -> str:
        value = value.upper()
        if value not in {"NORMAL", "FULL", "EXTRA"}:
            raise ValueError("sqlite_synchronous must be NORMAL, FULL or EXTRA")
        return value

    @model_validator(mode="after")
    def _spread_not_below_k(self) -> SurveySettings:
        if self.spread_min_group_size < self.min_group_size:
            raise ValueError("PULSE_SPREAD_MIN_GROUP_SIZE must not be below PULSE_MIN_GROUP_SIZE")
        return self

    @model_validator(mode="after")
    def _insider_below_k(self) -> SurveySettings:
        # A hidden unit says "fewer than k answered"; an insider who knows J+1 of its members
        # answered must still see room for one more: J + 1 < k - 1.
        if self.known_others > self.min_group_size - 3:
            raise ValueError(
                f"PULSE_KNOWN_OTHERS must be at most PULSE_MIN_GROUP_SIZE - 3 "
                f"({self.min_group_size - 3}), got {self.known_others}"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pulse.sqlite3').as_posix()}"

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @property
    def resolved_report_private_keys_dir(self) -> Path:
        return self.report_private_keys_dir or self.resolved_keys_dir
