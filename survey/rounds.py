"""Round lifecycle: opening a round locks its rules (P7); closing releases its answers (P2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from survey.crypto import KeyRing
from survey.enrolment import member_counts, subtree_ids
from survey.questions import LockedItem
from survey.settings import SurveySettings
from survey.storage import Database
from survey.storage.models import RoundState, SurveyRound, Unit


class RoundError(ValueError):
    """A round cannot be opened, answered or closed as asked; the message says why."""


def open_round(
    db: Database,
    keys: KeyRing,
    settings: SurveySettings,
    *,
    unit_id: int,
    items: Sequence[LockedItem],
    opens_at: datetime,
    closes_at: datetime,
    question_set_versions: Sequence[int] = (),
    schedule_id: int | None = None,
    sequence: int = 0,
    remind_at: datetime | None = None,
) -> SurveyRound:
    """Open a round for a unit sub-tree, locking items, k, the report key and member counts."""
    if closes_at <= opens_at:
        raise RoundError("a round must close after it opens")
    if not items:
        raise RoundError("a round must ask at least one item")
    report_key = keys.active_report_key()
    with db.session() as session:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.archived:
            raise RoundError(f"unit {unit_id} does not exist or is archived")
        scope = subtree_ids(session, unit_id)
        survey_round = SurveyRound(
            unit_id=unit_id,
            question_set_versions=list(question_set_versions),
            schedule_id=schedule_id,
            sequence=sequence,
            remind_at=remind_at,
            items=[item.model_dump(mode="json") for item in items],
            min_group_size=settings.min_group_size,
            known_others=settings.known_others,
            spread_min_group_size=settings.spread_min_group_size,
            member_counts=member_counts(session, scope),
            report_key_id=report_key.key_id,
            opens_at=opens_at,
            closes_at=closes_at,
            state=RoundState.OPEN,
        )
        session.add(survey_round)
        session.flush()
        return survey_round
