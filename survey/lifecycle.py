"""Schedules in the database and the round lifecycle they drive: open -> remind -> close.

``due`` reads the state and asks the pure ``survey.schedules.due_at``; ``tick`` carries out
what is due. Opening is guarded by a unique (schedule, opening time) constraint, so two processes
or a restart never open a round twice; closing runs the anonymous release of the survey core.
Reminders are only reported here: the bot sends them and then calls ``mark_reminded``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from survey.actions import followup_items
from survey.crypto import KeyFileError, KeyRing
from survey.enrolment import EnrolmentError, subtree_ids
from survey.questions import load_version
from survey.questions.locked import LockedItem, lock_items
from survey.questions.model import QuestionSet
from survey.rounds import open_round
from survey.schedules import Due, OpenDue, RoundState, ScheduleSpec, ScheduleState, due_at
from survey.settings import SurveySettings
from survey.storage import Database
from survey.storage.models import (
    Action,
    Member,
    MemberStatus,
    Participation,
    Role,
    RoundStatistic,
    Schedule,
    SurveyRound,
    Unit,
)
from survey.storage.models import (
    RoundState as StoredRoundState,
)
from survey.submissions import ReleaseError, ReleaseSummary, release_round, retry_scrubs


class Closer(Protocol):
    """Closes one round at ``now`` (the tick's clock): the core's release, or the release with
    statistics that aggregation/ adds."""

    def __call__(
        self, db: Database, keys: KeyRing, round_id: int, *, now: datetime | None = None
    ) -> ReleaseSummary: ...


class ScheduleError(ValueError):
    """A schedule request that cannot be carried out; the message says why."""


def create_schedule(
    db: Database,
    *,
    unit_id: int,
    question_sets: list[str],
    spec: ScheduleSpec,
    max_items: int | None = None,
) -> Schedule:
    """Store a schedule after checking its unit, that its sets fit together in every round of
    their rotation, and that no check-in asks more than ``max_items`` questions (a long check-in
    is the first reason people stop answering). The same schedule twice is refused: it would open
    two rounds for the same people at the same minute."""
    if not question_sets:
        raise ScheduleError("a schedule needs at least one question set")
    sets = _active_sets(db, question_sets)
    cycle = math.lcm(*(item.cadence for _, qs in sets for item in qs.items))
    for sequence in range(cycle):
        try:
            asked = lock_items(sets, sequence)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from exc
        if max_items is not None and len(asked) > max_items:
            raise ScheduleError(
                f"check-in {sequence + 1} of the rotation would ask {len(asked)} questions, more "
                f"than PULSE_MAX_ITEMS_PER_CHECKIN={max_items}: use fewer sets, or longer "
                "cadences for some items"
            )
    with db.session() as session:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.archived:
            raise ScheduleError(f"unit {unit_id} does not exist or is archived")
        for existing in session.exec(select(Schedule).where(Schedule.unit_id == unit_id)).all():
            if _same_schedule(existing, question_sets, spec):
                state = "" if existing.active else " (paused: `pulse schedules resume` it)"
                raise ScheduleError(
                    f"schedule {existing.id} already asks unit {unit_id} the same sets at the "
                    f"same time{state}"
                )
        schedule = Schedule(
            unit_id=unit_id,
            question_sets=list(question_sets),
            cadence=spec.cadence,
            weekday=spec.weekday,
            local_time=spec.local_time.strftime("%H:%M"),
            timezone=spec.timezone,
            open_hours=spec.open_hours,
            remind_after_hours=spec.remind_after_hours,
            skip=list(spec.skip),
            starts_on=spec.starts_on,
        )
        session.add(schedule)
        session.flush()
        return schedule


def _same_schedule(existing: Schedule, question_sets: list[str], spec: ScheduleSpec) -> bool:
    return (
        sorted(existing.question_sets) == sorted(question_sets)
        and existing.cadence == spec.cadence
        and existing.weekday == spec.weekday
        and existing.local_time == spec.local_time.strftime("%H:%M")
        and existing.timezone == spec.timezone
    )


def spec_of(schedule: Schedule) -> ScheduleSpec:
    return ScheduleSpec(
        cadence=schedule.cadence,
        weekday=schedule.weekday,
        local_time=datetime.strptime(schedule.local_time, "%H:%M").time(),
        timezone=schedule.timezone,
        open_hours=schedule.open_hours,
        remind_after_hours=schedule.remind_after_hours,
        skip=tuple(schedule.skip),
        starts_on=schedule.starts_on,
    )


def list_schedules(db: Database) -> list[Schedule]:
    with db.session() as session:
        return list(session.exec(select(Schedule).order_by(col(Schedule.id))).all())


def update_schedule(
    db: Database, schedule_id: int, *, active: bool | None = None, add_skip: str | None = None
) -> Schedule:
    with db.session() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            raise ScheduleError(f"no schedule {schedule_id} (see `pulse schedules list`)")
        if add_skip is not None:
            spec = spec_of(schedule).model_copy(update={"skip": (*schedule.skip, add_skip)})
            ScheduleSpec.model_validate(spec.model_dump())
            schedule.skip = [*schedule.skip, add_skip]
        if active is not None:
            schedule.active = active
        return schedule


def due(db: Database, now: datetime) -> Due:
    with db.session() as session:
        schedules = [
            ScheduleState(s.id, spec_of(s), s.active) for s in session.exec(select(Schedule)).all()
        ]
        rounds = [
            RoundState(
                r.id,
                r.schedule_id,
                r.opens_at,
                r.closes_at,
                r.remind_at,
                r.reminded_at is not None,
                r.state == StoredRoundState.OPEN,
            )
            for r in session.exec(select(SurveyRound)).all()
        ]
    return due_at(now, schedules, rounds)


@dataclass
class TickReport:
    opened: list[int] = field(default_factory=list)
    to_remind: list[int] = field(default_factory=list)
    closed: list[ReleaseSummary] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: Closed rounds whose destroyed rows are still not verified gone (P2).
    scrub_pending: list[int] = field(default_factory=list)


def tick(
    db: Database,
    keys: KeyRing,
    settings: SurveySettings,
    now: datetime | None = None,
    *,
    close: Closer = release_round,
) -> TickReport:
    """Carry out everything due at ``now``; safe to call as often as wanted.

    ``close`` closes one round; by default the core's anonymous release. The bot and the CLI
    pass ``aggregation.close.close_round``, which also computes the round's statistics
    (survey/ cannot import aggregation/, which builds on it).
    """
    now = now or datetime.now(UTC)
    report = TickReport()
    plan = due(db, now)
    for item in plan.open:
        try:
            round_id = open_scheduled_round(db, keys, settings, item)
        except (ScheduleError, EnrolmentError, KeyFileError, ValueError) as exc:
            report.failed.append(f"schedule {item.schedule_id}: could not open: {exc}")
            continue
        if round_id is not None:
            report.opened.append(round_id)
    for closing in plan.close:
        try:
            report.closed.append(close(db, keys, closing.round_id, now=now))
        except (KeyFileError, ReleaseError, RuntimeError) as exc:
            report.failed.append(f"round {closing.round_id}: could not close: {exc}")
    if close is not release_round:
        # Closing is resumable: a round released but left without statistics (a crash, a
        # missing key) is finished by the next tick; reports wait for the statistics.
        for round_id in unfinished_closes(db):
            try:
                report.closed.append(close(db, keys, round_id, now=now))
            except (KeyFileError, ReleaseError, RuntimeError) as exc:
                report.failed.append(f"round {round_id}: could not finish closing: {exc}")
    report.to_remind = [item.round_id for item in plan.remind]
    report.scrub_pending = retry_scrubs(db)
    return report


def unfinished_closes(db: Database) -> list[int]:
    """Closed rounds whose statistics were never stored."""
    with db.session() as session:
        done = select(RoundStatistic.round_id).distinct()
        return list(
            session.exec(
                select(SurveyRound.id).where(
                    SurveyRound.state == StoredRoundState.CLOSED,
                    col(SurveyRound.id).not_in(done),
                )
            ).all()
        )


def open_scheduled_round(
    db: Database, keys: KeyRing, settings: SurveySettings, item: OpenDue
) -> int | None:
    """Open one due round; returns None if another process opened it first."""
    with db.session() as session:
        schedule = session.get(Schedule, item.schedule_id)
        if schedule is None:
            raise ScheduleError(f"no schedule {item.schedule_id}")
        sequence = session.exec(
            select(func.count())
            .select_from(SurveyRound)
            .where(SurveyRound.schedule_id == item.schedule_id)
        ).one()
        set_ids, unit_id = list(schedule.question_sets), schedule.unit_id
    sets = _active_sets(db, set_ids)
    items = lock_items(sets, sequence)
    with db.session() as session:
        # Done actions of the covered units are followed up, within the check-in's item limit.
        room = settings.max_items_per_checkin - len(items)
        followups = followup_items(session, unit_id, room)
    items += [LockedItem.model_validate(item) for _, item in followups]
    try:
        survey_round = open_round(
            db,
            keys,
            settings,
            unit_id=unit_id,
            items=items,
            opens_at=item.opens_at,
            closes_at=item.closes_at,
            remind_at=item.remind_at,
            question_set_versions=[version_id for version_id, _ in sets],
            schedule_id=item.schedule_id,
            sequence=sequence,
        )
    except IntegrityError:
        return None
    if followups:
        with db.session() as session:
            for action, _ in followups:
                stored = session.get(Action, action.id)
                if stored is not None:
                    stored.followup_round_id = survey_round.id
    return survey_round.id


def mark_reminded(db: Database, round_id: int, now: datetime | None = None) -> None:
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is not None and survey_round.reminded_at is None:
            survey_round.reminded_at = now or datetime.now(UTC)


def recipients(db: Database, round_id: int, *, only_unanswered: bool) -> list[Member]:
    """Active workers of the round's units (optionally: those who have not answered yet).

    Computed on demand from the open round's participation, never stored per member (P2).
    """
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None or survey_round.state != StoredRoundState.OPEN:
            return []
        units = set(subtree_ids(session, survey_round.unit_id))
        query = select(Member).where(
            col(Member.unit_id).in_(units),
            Member.role == Role.WORKER,
            Member.status == MemberStatus.ACTIVE,
        )
        if only_unanswered:
            answered = select(Participation.pseudonym).where(Participation.round_id == round_id)
            query = query.where(col(Member.pseudonym).not_in(answered))
        return list(session.exec(query.order_by(col(Member.id))).all())


def _active_sets(db: Database, set_ids: list[str]) -> list[tuple[int, QuestionSet]]:
    sets = []
    for set_id in set_ids:
        try:
            row, question_set = load_version(db, set_id)
        except LookupError as exc:
            raise ScheduleError(str(exc)) from exc
        sets.append((row.id, question_set))
    return sets


def open_round_for(db: Database, member: Member, now: datetime | None = None) -> SurveyRound | None:
    """The open round a worker can answer now (the newest, if schedules overlap)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        rounds = session.exec(
            select(SurveyRound)
            .where(SurveyRound.state == StoredRoundState.OPEN)
            .order_by(col(SurveyRound.opens_at).desc())
        ).all()
        for survey_round in rounds:
            in_window = survey_round.opens_at <= now < survey_round.closes_at
            if in_window and str(member.unit_id) in survey_round.member_counts:
                return survey_round
    return None


def has_answered(db: Database, round_id: int, member: Member) -> bool:
    with db.session() as session:
        return session.get(Participation, (round_id, member.pseudonym)) is not None


@dataclass(frozen=True)
class Press:
    """What a button press needs to know, read in one transaction (the bot's busiest path)."""

    member: Member | None
    round: SurveyRound | None
    #: The member has already answered this round (only while it is open: the record of who
    #: answered is destroyed at close).
    answered: bool = False

    def round_is_open(self, now: datetime) -> bool:
        return (
            self.round is not None
            and self.round.state == StoredRoundState.OPEN
            and self.round.opens_at <= now < self.round.closes_at
        )


def member_and_round(
    db: Database, keys: KeyRing, telegram_user_id: int, round_id: int | None
) -> Press:
    """The member behind a Telegram user and (optionally) a round and whether they answered it."""
    pseudonym = keys.pseudonymizer().pseudonym(telegram_user_id)
    with db.session() as session:
        member = session.exec(select(Member).where(Member.pseudonym == pseudonym)).first()
        if round_id is None:
            return Press(member, None)
        survey_round = session.get(SurveyRound, round_id)
        answered = session.get(Participation, (round_id, pseudonym)) is not None
        return Press(member, survey_round, answered)
