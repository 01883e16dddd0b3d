"""The repeating tick (JobQueue): open, remind and close rounds, and send what is due."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from telegram.ext import Application, ContextTypes

from aggregation.close import release_with_statistics
from bot.sender import deliver, deliver_reports
from survey.deliveries import Kind
from survey.lifecycle import mark_reminded, tick
from survey.storage import Database
from survey.storage.leader import LeaderLock
from survey.storage.models import RoundState, RoundStatistic, SurveyRound

log = logging.getLogger(__name__)


def schedule_ticks(application: Application, interval: float) -> None:
    application.bot_data["leader"] = LeaderLock(application.bot_data["services"].db)
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    application.job_queue.run_repeating(tick_job, interval=interval, first=0.1, name="tick")


async def tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_tick(context.application)


async def run_tick(application: Application) -> None:
    """One pass; only the leading process does anything (two bots never double-send)."""
    services = application.bot_data["services"]
    leader: LeaderLock = application.bot_data.setdefault("leader", LeaderLock(services.db))
    if not await asyncio.to_thread(leader.try_lead):
        return
    now = services.clock()
    report = await asyncio.to_thread(
        tick, services.db, services.keys, services.settings, now, close=release_with_statistics
    )
    for failure in report.failed:
        log.warning("%s", failure)
    # Reports go to managers after close; rounds closed in the last week are retried, so a
    # restart between close and delivery loses no report (records keep it to one each).
    for round_id in await asyncio.to_thread(_recently_closed, services.db, now):
        await deliver_reports(application, round_id)
    for survey_round in await asyncio.to_thread(_open_rounds, services.db):
        await deliver(application, survey_round, Kind.INVITATION)
    for round_id in report.to_remind:
        reminding = next(
            (r for r in await asyncio.to_thread(_open_rounds, services.db) if r.id == round_id),
            None,
        )
        if reminding is None:
            continue
        sent = await deliver(application, reminding, Kind.REMINDER)
        if not sent.failed:
            await asyncio.to_thread(mark_reminded, services.db, round_id, now)


def _open_rounds(db: Database) -> list[SurveyRound]:
    with db.session() as session:
        return list(
            session.exec(select(SurveyRound).where(SurveyRound.state == RoundState.OPEN)).all()
        )


def _recently_closed(db: Database, now: datetime, days: int = 7) -> list[int]:
    """Rounds closed in the last week whose statistics exist: a report goes out only then."""
    since = now - timedelta(days=days)
    with db.session() as session:
        return list(
            session.exec(
                select(SurveyRound.id).where(
                    SurveyRound.state == RoundState.CLOSED,
                    func.coalesce(col(SurveyRound.closed_at), col(SurveyRound.closes_at)) >= since,
                    col(SurveyRound.id).in_(select(RoundStatistic.round_id).distinct()),
                )
            ).all()
        )
