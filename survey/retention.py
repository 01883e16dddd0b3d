"""Purging raw sealed answers after the retention period; published statistics stay.

A round's answers are purged only once its statistics exist, so nothing is ever lost that a
report needs. Dry run by default: the operator sees what would go before anything goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select

from survey.storage import Database
from survey.storage.models import Response, RoundState, RoundStatistic, SurveyRound


@dataclass(frozen=True)
class PurgePlan:
    round_id: int
    closed_at: datetime
    responses: int


def purge_responses(
    db: Database, *, retention_days: int, now: datetime | None = None, apply: bool = False
) -> list[PurgePlan]:
    """Rounds whose answers are past retention (and already summarised); deleted if ``apply``."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    with db.session() as session:
        summarised = select(RoundStatistic.round_id).distinct()
        rows = session.execute(
            select(SurveyRound.id, SurveyRound.closes_at, func.count(col(Response.id)))
            .join(Response, col(Response.round_id) == SurveyRound.id)
            .where(
                SurveyRound.state == RoundState.CLOSED,
                SurveyRound.closes_at < cutoff,
                col(SurveyRound.id).in_(summarised),
            )
            .group_by(col(SurveyRound.id), col(SurveyRound.closes_at))
            .order_by(col(SurveyRound.closes_at))
        ).all()
        plans = [PurgePlan(r, c, n) for r, c, n in rows]
        if apply and plans:
            session.execute(
                delete(Response).where(col(Response.round_id).in_([p.round_id for p in plans]))
            )
    if apply and plans:
        db.scrub_deleted(("response",))
    return plans
