"""The tables. Read this module with ARCHITECTURE.md P1-P2 beside it.

Identity lives in ``member``; answers live in ``pool_submission`` (while a round is open) and
``response`` (after it closed). No table holds both a member reference and an answer; the only
bridge, ``participation``, records *that* a member answered an open round and is reduced to
per-unit counts when the round closes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlmodel import Field, SQLModel

from survey.storage.types import UTCDateTime


class Role(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"
    ADMIN = "admin"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    #: Telegram said the user blocked the bot (403); no more sends until they come back.
    UNREACHABLE = "unreachable"


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Unit(SQLModel, table=True):
    """A node of the organisation tree (förvaltning -> avdelning -> enhet -> team)."""

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), index=True),
    )
    name: str = Field(max_length=200)
    kind: str = Field(default="enhet", max_length=40)
    archived: bool = Field(default=False)


class Member(SQLModel, table=True):
    """Someone enrolled through an invite. Found by keyed pseudonym, never by Telegram id (P4)."""

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    chat_id_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    language: str = Field(default="sv", max_length=8)
    status: MemberStatus = Field(
        default=MemberStatus.ACTIVE, sa_column=Column(String(16), nullable=False)
    )


class SurveyRound(SQLModel, table=True):
    """One check-in round for a unit sub-tree, with the rules it locked when it opened (P7)."""

    __tablename__ = "survey_round"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    question_set_version: str | None = Field(default=None, max_length=120)
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    min_group_size: int
    spread_min_group_size: int
    member_counts: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    report_key_id: str = Field(max_length=16)
    opens_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closes_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    state: RoundState = Field(
        default=RoundState.OPEN, sa_column=Column(String(16), nullable=False, index=True)
    )


class Participation(SQLModel, table=True):
    """That a member answered an open round: needed for reminders and one-answer-per-round.

    Deliberately no timestamp and no unit; deleted when the round closes (P2). WITHOUT ROWID on
    SQLite, so not even a hidden row number records in which order members answered.
    """

    __table_args__ = {"sqlite_with_rowid": False}

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )


class PoolSubmission(SQLModel, table=True):
    """A sealed answer waiting for its round to close. Destroyed at release (P2)."""

    __tablename__ = "pool_submission"
    __table_args__ = (
        Index("ix_pool_submission_round_id", "round_id"),
        {"sqlite_with_rowid": False},
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid(as_uuid=True), primary_key=True))
    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="RESTRICT"), nullable=False
        )
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Response(SQLModel, table=True):
    """A released, anonymous answer: random id, round, unit, sealed payload, nothing else (P1)."""

    __table_args__ = (
        Index("ix_response_round_unit", "round_id", "unit_id"),
        {"sqlite_with_rowid": False},
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid(as_uuid=True), primary_key=True))
    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="RESTRICT"), nullable=False
        )
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RoundUnitCount(SQLModel, table=True):
    """How many answered a closed round per unit: all that is left of participation (P2)."""

    __tablename__ = "round_unit_count"

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True)
    )
    respondents: int
