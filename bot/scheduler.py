"""The repeating tick (JobQueue): open, remind and close rounds, and send what is due."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from aggregation.close import release_with_statistics
from bot.buttons import TalkReply
from bot.buttons import data as button_data
from bot.context import services_from
from bot.outbox import Part, outbox_of
from bot.sender import Send, broadcast, deliver, deliver_reports, deliver_results
from bot.shared import App, Context
from survey.actions import mark_overdue_reminded, overdue_reminders
from survey.claims import Claim, Kind, reopen_unconfirmed
from survey.deliveries import recipients_of
from survey.i18n import Texts
from survey.lifecycle import mark_reminded, tick
from survey.staff_access import purge_access_log
from survey.storage import Database
from survey.storage.engine import DatabaseUnavailableError
from survey.storage.leader import LeaderLock
from survey.storage.models import RoundState, RoundStatistic, SurveyRound
from survey.talk import DueTalk, due_talks, purge_talks

log = logging.getLogger(__name__)


def schedule_ticks(application: App, interval: float) -> None:
    application.bot_data.leader = LeaderLock(services_from(application).db)
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    application.job_queue.run_repeating(tick_job, interval=interval, first=0.1, name="tick")


async def tick_job(context: Context) -> None:
    await run_tick(context.application)


async def run_tick(application: App) -> None:
    """One pass; only the leading process does anything (two bots never double-send)."""
    services = services_from(application)
    if application.bot_data.leader is None:
        application.bot_data.leader = LeaderLock(services.db)
    leader = application.bot_data.leader
    if not await asyncio.to_thread(leader.try_lead):
        return
    await _take_over(application, leader)
    await outbox_of(application).settle()
    now = services.clock()
    close = functools.partial(release_with_statistics, chance=services.chance)
    report = await asyncio.to_thread(
        tick, services.db, services.keys, services.settings, now, close=close
    )
    for failure in report.failed:
        log.warning("%s", failure)
    # Reports go to managers after close; rounds closed in the last week are retried, so a
    # restart between close and delivery loses no report (records keep it to one each).
    for round_id in await asyncio.to_thread(_recently_closed, services.db, now):
        await deliver_reports(application, round_id)
    # Workers get their results a while after the managers (PULSE_RESULTS_DELAY_HOURS), so a
    # manager's note and actions can go with them.
    delay = timedelta(hours=services.settings.results_delay_hours)
    for round_id in await asyncio.to_thread(_recently_closed, services.db, now, delay):
        await deliver_results(application, round_id)
    await follow_up_actions(application, now)
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
        if not sent.failed and not sent.stopped:
            await asyncio.to_thread(mark_reminded, services.db, round_id, now)


async def _take_over(application: App, leader: LeaderLock) -> None:
    """Once per won lead: what an earlier leader left unconfirmed and must not be lost (a
    report, a request to talk) is sent again (survey.claims)."""
    if application.bot_data.taken_over_term == leader.term:
        return
    try:
        reopened = await asyncio.to_thread(reopen_unconfirmed, services_from(application).db)
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        log.warning("cannot take over unconfirmed messages yet: %s", type(exc).__name__)
        return
    application.bot_data.taken_over_term = leader.term
    if reopened:
        log.warning("%d message(s) left unconfirmed by an earlier leader are sent again", reopened)


async def follow_up_actions(application: App, now: datetime) -> None:
    """The day's duties that are not rounds: one reminder per overdue action, and yesterday's
    requests to talk, in one batch at the day's delivery hour."""
    services = services_from(application)
    today = services.settings.today(now)
    await _remind_overdue(application, today)
    local = now.astimezone(ZoneInfo(services.settings.timezone))
    if local.hour < services.settings.talk_delivery_hour:
        return
    for due in await asyncio.to_thread(due_talks, services.db, services.keys, today):
        claim = Claim(Kind.TALK, due.request_id, due.to.member_id, day=today)
        request = _talk_request(application, due)
        await outbox_of(application).send(application, claim, due.to, [request])
    await asyncio.to_thread(purge_talks, services.db, today)
    # Who opened which unit's page in the dashboard is kept for the retention period only.
    retention = timedelta(days=services.settings.staff_access_retention_days)
    await asyncio.to_thread(purge_access_log, services.db, now - retention)


async def _remind_overdue(application: App, today: date) -> None:
    """One reminder per overdue action to each of its managers (one claim per recipient: a
    failed send is tried again for that manager alone on the next tick, and nobody who had it
    gets it twice)."""
    services = services_from(application)
    for reminder in await asyncio.to_thread(overdue_reminders, services.db, today):
        targets = await asyncio.to_thread(
            recipients_of, services.db, services.keys, list(reminder.manager_ids)
        )
        sends: list[Send] = []
        for target in targets:
            t = Texts(target.language)
            text = (
                "<b>"
                + html.escape(t._("An action is overdue"))
                + "</b>\n"
                + html.escape(
                    t._("“{title}” ({unit}) was due {date}. Mark its progress in /actions.").format(
                        title=reminder.action.title,
                        unit=reminder.unit_name,
                        date=t.date(reminder.action.due_on),
                    )
                )
            )
            claim = Claim(Kind.OVERDUE, reminder.action.id, target.member_id)
            sends.append((claim, target, [(text, None)]))
        sent = await broadcast(application, sends)
        if not sent.failed and not sent.stopped:
            await asyncio.to_thread(mark_overdue_reminded, services.db, reminder.action.id)


def _talk_request(application: App, due: DueTalk) -> Part:
    """A request to talk as its recipient reads it, with the Reply button."""
    services = services_from(application)
    t = Texts(due.to.language)
    text = (
        "<b>"
        + html.escape(t._("A request to talk"))
        + "</b>\n"
        + html.escape(
            t._(
                "{name} would like to talk about their work situation (asked {date}). They "
                "chose to tell you who they are; their check-in answers stay anonymous and "
                "this request says nothing about them."
            ).format(name=due.name, date=t.date(due.requested_on))
        )
    )
    reply = button_data(TalkReply(due.request_id), services.keys.button_signer(), due.to.chat_id)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(t._("Reply"), callback_data=reply)]])
    return text, keyboard


def _open_rounds(db: Database) -> list[SurveyRound]:
    with db.session() as session:
        return list(
            session.exec(select(SurveyRound).where(SurveyRound.state == RoundState.OPEN)).all()
        )


def _recently_closed(
    db: Database, now: datetime, delay: timedelta = timedelta(0), days: int = 7
) -> list[int]:
    """Rounds closed at least ``delay`` and at most a week before that, whose statistics exist:
    a report goes out only then."""
    until = now - delay
    since = until - timedelta(days=days)
    with db.session() as session:
        return list(
            session.exec(
                select(SurveyRound.id).where(
                    SurveyRound.state == RoundState.CLOSED,
                    func.coalesce(col(SurveyRound.closed_at), col(SurveyRound.closes_at)) >= since,
                    func.coalesce(col(SurveyRound.closed_at), col(SurveyRound.closes_at)) <= until,
                    col(SurveyRound.id).in_(select(RoundStatistic.round_id).distinct()),
                )
            ).all()
        )
