"""The tables. Read this module with docs/privacy.md (P1, P2) beside it.

Identity lives in ``member``; answers live in ``pool_submission`` (while a round is open) and
``response`` (after it closed). No table holds both a member reference and an answer; the only
bridge, ``participation``, records *that* a member answered an open round and is reduced to
per-unit counts when the round closes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from survey.roles import Role as Role  # re-exported: survey/ names roles with the models
from survey.storage.types import UTCDateTime


class MemberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    #: Telegram said the user blocked the bot (403); no more sends until they come back.
    UNREACHABLE = "unreachable"


class CheckinChannel(StrEnum):
    """Where a worker answers: the Mini App page (Telegram never carries the answers) or the
    chat's buttons (the fallback where no public address is configured, or by choice)."""

    WEBAPP = "webapp"
    CHAT = "chat"


class ActionStatus(StrEnum):
    PLANNED = "planned"
    ONGOING = "ongoing"
    DONE = "done"


class TalkRecipient(StrEnum):
    MANAGER = "manager"
    SAFETY_REP = "safety_rep"


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Unit(SQLModel, table=True):
    """A node of the organisation tree (förvaltning -> avdelning -> enhet -> team)."""

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), index=True),
    )
    name: str = Field(max_length=200)
    kind: str = Field(default="enhet", max_length=40)
    archived: bool = Field(default=False)


class Member(SQLModel, table=True):
    """Someone enrolled through an invite. Found by keyed pseudonym, never by Telegram id (P4)."""

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
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
    #: Whether the worker gets their group's results after each round (they can turn it off).
    wants_results: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    #: Where the worker answers, if they chose (/settings); None follows the installation.
    checkin_channel: CheckinChannel | None = Field(
        default=None, sa_column=Column(String(8), nullable=True)
    )


class SurveyRound(SQLModel, table=True):
    """One check-in round for a unit sub-tree, with the rules it locked when it opened (P7)."""

    __tablename__ = "survey_round"
    __table_args__ = (
        UniqueConstraint("schedule_id", "opens_at", name="uq_survey_round_schedule_opens_at"),
    )

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    schedule_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("schedule.id", ondelete="SET NULL"), index=True),
    )
    #: 0-based position of the round in its schedule: drives item rotation.
    sequence: int = Field(default=0)
    #: Ids of the question_set_version rows this round asks from (locked at open, P7).
    question_set_versions: list[int] = Field(sa_column=Column(JSON, nullable=False))
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    min_group_size: int
    #: J, the insider's knowledge of others' participation (docs/privacy.md), locked like k.
    #: -1 (``survey.grouping.OUTSIDER``): published before the insider rules, and judged by the
    #: rules it was published under.
    known_others: int = Field(sa_column=Column(Integer, nullable=False))
    spread_min_group_size: int
    member_counts: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    report_key_id: str = Field(max_length=16)
    opens_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    #: When the round was scheduled to close, and when it actually closed (a close waits while
    #: the report private key is elsewhere, or the bot was down): reports date it by the latter.
    closes_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    state: RoundState = Field(
        default=RoundState.OPEN, sa_column=Column(String(16), nullable=False, index=True)
    )
    #: When the single reminder is due, and when it went out (None: not yet). Set once for the
    #: round, never per member, so nothing records who had not answered at that moment.
    remind_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    #: Closed, but the rows destroyed at close could not yet be verified gone (a reader held an
    #: older snapshot): every tick tries again, and `pulse status` says so until it is done.
    scrub_pending: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=false()),
    )
    #: Set at close: per unit, what may be published about who answered (shown or not, the
    #: reason, the capped count) - the groups the released answers are stored under (P1, P6).
    publication: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True))
    )


class Participation(SQLModel, table=True):
    """That a member answered an open round: needed for reminders and one-answer-per-round.

    Keyed by the member's pseudonym, not the member row, so that leaving and re-joining during a
    round cannot give a second answer. Deliberately no timestamp and no unit; deleted when the
    round closes (P2). WITHOUT ROWID on SQLite, so not even a hidden row number records in which
    order members answered.
    """

    __table_args__ = {"sqlite_with_rowid": False}

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    pseudonym: str = Field(sa_column=Column(String(64), primary_key=True))


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


class QuestionSetRecord(SQLModel, table=True):
    """A question set by its stable id, and which of its versions new rounds use."""

    __tablename__ = "question_set"

    id: str = Field(sa_column=Column(String(60), primary_key=True))
    active_version: int | None = None


class QuestionSetVersion(SQLModel, table=True):
    """One imported version of a set, stored whole so a round can always show what it asked."""

    __tablename__ = "question_set_version"
    __table_args__ = (UniqueConstraint("set_id", "version", name="uq_question_set_version"),)

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    set_id: str = Field(
        sa_column=Column(
            String(60), ForeignKey("question_set.id", ondelete="RESTRICT"), nullable=False
        )
    )
    version: int
    digest: str = Field(max_length=64)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: item key -> trend lineage: items share a lineage across versions only while their key,
    #: answers and meaning are unchanged, so trends never join two different questions.
    lineage: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Invite(SQLModel, table=True):
    """An invite link: only a hash of its token is stored, so the table cannot mint links."""

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    label: str = Field(default="", max_length=120)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    max_uses: int
    uses: int = 0
    revoked: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class InviteFailure(SQLModel, table=True):
    """Wrong invite codes per pseudonym in the current window, for rate limiting (P8)."""

    __tablename__ = "invite_failure"

    pseudonym: str = Field(sa_column=Column(String(64), primary_key=True))
    window_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    failures: int = 0


class Schedule(SQLModel, table=True):
    """When a unit sub-tree gets its check-ins, in local time (DST-correct), and with what."""

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    )
    question_sets: list[str] = Field(sa_column=Column(JSON, nullable=False))
    cadence: str = Field(max_length=16)
    weekday: int
    local_time: str = Field(max_length=5)
    timezone: str = Field(max_length=64)
    open_hours: int
    remind_after_hours: int
    skip: list[str] = Field(sa_column=Column(JSON, nullable=False))
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))


class RoundStatistic(SQLModel, table=True):
    """The published figures of one unit in one closed round, after disclosure control (P6).

    Only what may be shown is stored: figures for fewer than k people never reach the database
    in clear, so reading this table reveals no more than a manager's report does.
    """

    __tablename__ = "round_statistic"

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True)
    )
    figures: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: The shape of ``figures`` (survey.figures.FIGURES_VERSION): a reader of another shape
    #: stops with a clear message instead of misreading a key.
    figures_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default=text("1"))
    )
    #: The shown construct indices alone ({construct: index}), small enough that an
    #: organisation-wide trend over years reads in a fraction of a second.
    indices: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))


class Delivery(SQLModel, table=True):
    """That the bot sends or sent a member a round's message (survey.claims): written before
    the send, so sending is resumable and no two processes send the same. Invitation and
    reminder rows are deleted when the round closes, since they would otherwise keep who had not
    answered (P2)."""

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    #: False while a message that must not be lost (a report, results) is on its way: after a
    #: crash, the next leader sends it again (survey.claims.AT_LEAST_ONCE).
    confirmed: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )


class Action(SQLModel, table=True):
    """What a unit's manager will do about a finding (AFS 2023:1: act, then follow up).

    Written by staff, about a unit: it holds no answer and no worker, so nothing here is
    anonymous or needs to be. ``followup_round_id`` is the round whose check-in asked whether
    it made a difference, once it is done.
    """

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    unit_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    title: str = Field(sa_column=Column(String(200), nullable=False))
    #: The construct (or the item, for an alert) the action answers; None: something else.
    construct_key: str | None = Field(default=None, sa_column=Column(String(60)))
    item: str | None = Field(default=None, sa_column=Column(String(60)))
    owner: str = Field(sa_column=Column(String(120), nullable=False))
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    status: ActionStatus = Field(
        default=ActionStatus.PLANNED, sa_column=Column(String(16), nullable=False)
    )
    created_on: date = Field(sa_column=Column(Date, nullable=False))
    done_on: date | None = Field(default=None, sa_column=Column(Date))
    created_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL")),
    )
    #: The one reminder to the manager once it is overdue has gone out.
    overdue_reminded: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    followup_round_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("survey_round.id", ondelete="SET NULL")),
    )


class ActionComment(SQLModel, table=True):
    """A safety representative's (or manager's) comment on an action."""

    __tablename__ = "action_comment"

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    action_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("action.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    author_role: Role = Field(sa_column=Column(String(16), nullable=False))
    text: str = Field(sa_column=Column(String(1000), nullable=False))
    written_on: date = Field(sa_column=Column(Date, nullable=False))


class RoundNote(SQLModel, table=True):
    """A manager's note to their unit's workers about a closed round, sent with its results."""

    __tablename__ = "round_note"

    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
        )
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True)
    )
    text: str = Field(sa_column=Column(String(1000), nullable=False))


class ActionReminder(SQLModel, table=True):
    """That one manager got an overdue action's reminder. One record per recipient, so a send
    that failed for one of a unit's managers is tried again for that manager alone, and a
    restart between two managers sends the first nothing twice."""

    __tablename__ = "action_reminder"

    action_id: int = Field(
        sa_column=Column(Integer, ForeignKey("action.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )


class PendingPrompt(SQLModel, table=True):
    """What the bot waits for a staff member to type (an action's words, a comment, a reply to
    a request to talk), so that a restart between the question and the answer loses nothing.
    Staff only, never a worker's check-in (P5); at most one per person, forgotten once answered,
    cancelled or older than PULSE_PROMPT_HOURS."""

    __tablename__ = "pending_prompt"

    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    asked_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class TalkRequest(SQLModel, table=True):
    """A worker asked to talk about their work situation: deliberately *not* anonymous.

    It stores who asked (the worker chose to be known to the recipient), their Telegram name
    encrypted, and the day - no answer, no round and no time finer than a day, so it cannot be
    matched with a check-in (docs/privacy.md). Deleted when the worker leaves, and purged
    after the retention period.
    """

    __tablename__ = "talk_request"

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    recipient: TalkRecipient = Field(sa_column=Column(String(16), nullable=False))
    name_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    requested_on: date = Field(sa_column=Column(Date, nullable=False))
    #: The day it went out in the daily batch (None: not yet), and to whom (None once they left).
    delivered_on: date | None = Field(default=None, sa_column=Column(Date))
    delivered_to: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL")),
    )
    #: False while the delivery is on its way: after a crash it is sent again (survey.claims).
    delivery_confirmed: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )


class LoginLink(SQLModel, table=True):
    """A one-time link that logs a staff member into the dashboard in an ordinary browser.

    Only a hash of the link's secret is stored; it works once, for minutes, and only through a
    POST from its page, so that a link preview fetching it cannot use it up or log in.
    """

    __tablename__ = "login_link"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    #: The staff member's Telegram name when they asked for the link, sealed to their pseudonym.
    name_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class WebSession(SQLModel, table=True):
    """A staff member's dashboard session: a hash of the cookie's secret, who, and the role and
    grant it began with (a change of either ends it), the CSRF token of its forms, and when it
    was last used (idle sessions end)."""

    __tablename__ = "web_session"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    unit_id: int = Field(sa_column=Column(Integer, nullable=False))
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    #: The staff member's Telegram name, encrypted and bound to their pseudonym, for the
    #: access log.
    name_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class StaffAccess(SQLModel, table=True):
    """Who of the staff opened which unit's page in the dashboard, and when (kept 90 days), so
    that a unit can ask who looked. Staff act in their role here, not anonymously."""

    __tablename__ = "staff_access"

    id: int = Field(default=None, primary_key=True)  # None only until the row is flushed
    unit_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    #: The reader's pseudonym (staff only) and Telegram name sealed to it: who looked, also
    #: after they left.
    pseudonym: str = Field(sa_column=Column(String(64), nullable=False))
    name_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
