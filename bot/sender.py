"""Sending invitations and reminders: resumable, idempotent, and polite to Telegram.

AIORateLimiter keeps the bot within Telegram's limits and waits ``retry_after`` on 429; here, a
403 (the user blocked the bot) marks the member unreachable instead of retrying, and network
errors are retried a few times with backoff. Every message that Telegram accepted is recorded at
once, so a restart continues with exactly those not yet sent.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from aggregation.render import report_text, worker_summary_text
from aggregation.report import ReportError, build_report
from aggregation.worker_summary import WorkerSummary, worker_summary
from bot.access import ACTORS, record_keyboard
from bot.checkin import CheckinState, ItemView, Screen
from bot.context import views_for
from survey.deliveries import (
    Kind,
    Recipient,
    pending,
    record,
    record_many,
    report_recipients,
    results_recipients,
)
from survey.enrolment import set_status
from survey.group_commit import GroupCommit
from survey.i18n import Texts
from survey.questions.locked import LockedItem, estimated_minutes
from survey.storage.models import MemberStatus, SurveyRound

log = logging.getLogger(__name__)
NETWORK_RETRIES = 3


@dataclass
class SendReport:
    sent: int = 0
    unreachable: int = 0
    failed: int = 0


async def deliver(
    application: Application,
    survey_round: SurveyRound,
    kind: Kind,
    backoff: float = 1.0,
    concurrency: int = 40,
) -> SendReport:
    """Send ``kind`` for ``survey_round`` to everyone who has not had it yet.

    Several sends are in flight at once - enough to reach Telegram's 30 messages/s with a second
    of latency each (the rate limiter, not this loop, keeps within Telegram's limits) - and each
    accepted message is recorded through a group commit as soon as Telegram accepted it. If
    anything fails hard, the whole broadcast stops (TaskGroup) and the next tick resumes it from
    the records.
    """
    services = application.bot_data["services"]
    targets = await asyncio.to_thread(pending, services.db, services.keys, survey_round.id, kind)
    report = SendReport()
    views = {
        (target.language, target.unit_id): await views_for(
            application.bot_data, survey_round, target.language, target.unit_id
        )
        for target in targets
    }
    records = _recorder(application)
    queue: asyncio.Queue[Recipient] = asyncio.Queue()
    for target in targets:
        queue.put_nowait(target)

    async def worker() -> None:
        while not queue.empty():
            target = queue.get_nowait()
            outcome = await _send(
                application,
                survey_round,
                target,
                kind,
                views[target.language, target.unit_id],
                backoff,
            )
            if outcome == "sent":
                await records.put((survey_round.id, target.member_id, kind))
                report.sent += 1
            elif outcome == "not leading":
                while not queue.empty():  # stop: the leader (maybe another process) resumes
                    queue.get_nowait()
            elif outcome == "unreachable":  # send_text marked them so
                report.unreachable += 1
            else:
                report.failed += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(targets)))):
            group.create_task(worker())
    return report


def _recorder(application: Application) -> GroupCommit[tuple[int, int, Kind], None]:
    recorder = application.bot_data.get("delivery_records")
    if recorder is None:
        db = application.bot_data["services"].db
        recorder = GroupCommit(lambda sent: record_many(db, sent))
        application.bot_data["delivery_records"] = recorder
    return recorder


async def _send(
    application: Application,
    survey_round: SurveyRound,
    target: Recipient,
    kind: Kind,
    views: list[ItemView],
    backoff: float,
) -> str:
    services = application.bot_data["services"]
    t = Texts(target.language)
    screen = Screen(views, t, services.keys.button_signer(), target.chat_id)
    question, keyboard = screen.render(CheckinState(survey_round.id, ()))
    if kind == Kind.INVITATION:
        heading = _invitation_heading(t, [view.item for view in views])
    else:
        heading = t._("A reminder: this week's check-in is still open, and closes soon.")
    text = "<i>" + html.escape(heading) + "</i>\n\n" + question
    return await send_text(application, target, text, keyboard, backoff)


def may_have_arrived(error: NetworkError) -> bool:
    """Whether a failed request may still have reached Telegram: a timeout or a dropped
    connection while sending or waiting for the reply. Not when the connection never opened (or
    no connection was free), and not when Telegram answered with an error: those provably did
    not deliver."""
    cause = error.__cause__
    if isinstance(error, TimedOut):
        return not isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(cause, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError)


def seconds_of(value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    assert isinstance(value, int | float), value
    return float(value)


async def deliver_reports(application: Application, round_id: int) -> SendReport:
    """After a round closed: each manager gets the report of the unit they were granted."""
    services = application.bot_data["services"]
    report = SendReport()
    targets = await asyncio.to_thread(report_recipients, services.db, services.keys, round_id)
    for target in targets:
        try:
            built = await asyncio.to_thread(
                functools.partial(
                    build_report,
                    services.db,
                    target.unit_id,
                    change_spread=services.settings.change_spread,
                )
            )
            messages = report_text(built, target.language)
            for number, message in enumerate(messages, 1):
                # Under the report's last part: record what will be done about it.
                keyboard = None
                if number == len(messages) and target.role in ACTORS and built.rounds:
                    keyboard = record_keyboard(
                        Texts(target.language),
                        target.unit_id,
                        functools.partial(
                            services.keys.button_signer().sign, user_id=target.chat_id
                        ),
                    )
                await application.bot.send_message(
                    target.chat_id, message, parse_mode=ParseMode.HTML, reply_markup=keyboard
                )
        except Forbidden:
            await asyncio.to_thread(
                set_status, services.db, target.member_id, MemberStatus.UNREACHABLE
            )
            report.unreachable += 1
            continue
        except NetworkError as exc:
            if not may_have_arrived(exc):
                log.warning("could not deliver a report: %s", type(exc).__name__)
                report.failed += 1
                continue
            # The reply was lost, the report may well be in the chat: as with every other send,
            # it is not sent again (the manager can always ask with /report).
            log.warning("a report's reply was lost; it is not sent again")
        except (TelegramError, ReportError) as exc:
            log.warning("could not deliver a report: %s", type(exc).__name__)
            report.failed += 1
            continue
        await asyncio.to_thread(record, services.db, round_id, target.member_id, Kind.REPORT)
        report.sent += 1
    return report


def _invitation_heading(t: Texts, items: list[LockedItem]) -> str:
    """The promise of the invitation, computed from what this round really asks."""
    minutes = estimated_minutes(items)
    questions = t.ngettext("{n} question", "{n} questions", len(items)).format(n=len(items))
    if minutes == 1:
        return t._("A new check-in is open: {questions}, under a minute.").format(
            questions=questions
        )
    return t.ngettext(
        "A new check-in is open: {questions}, about {n} minute.",
        "A new check-in is open: {questions}, about {n} minutes.",
        minutes,
    ).format(questions=questions, n=minutes)


async def deliver_results(
    application: Application, round_id: int, concurrency: int = 40
) -> SendReport:
    """After a round closed (and the manager had time to add a note): each active worker gets
    their group's results, once. Summaries are built once per unit and language; sends run
    concurrently and each accepted one is recorded through the group commit, as invitations."""
    services = application.bot_data["services"]
    report = SendReport()
    targets = await asyncio.to_thread(results_recipients, services.db, services.keys, round_id)
    summaries: dict[int, WorkerSummary | None] = {}
    for unit_id in sorted({target.unit_id for target in targets}):
        summaries[unit_id] = await asyncio.to_thread(
            functools.partial(
                worker_summary,
                services.db,
                round_id,
                unit_id,
                change_spread=services.settings.change_spread,
            )
        )
    texts: dict[tuple[int, str], str] = {}
    queue: asyncio.Queue[Recipient] = asyncio.Queue()
    for target in targets:
        summary = summaries[target.unit_id]
        if summary is None:
            continue
        key = (target.unit_id, target.language)
        if key not in texts:
            texts[key] = worker_summary_text(summary, target.language)
        queue.put_nowait(target)
    records = _recorder(application)
    signer = services.keys.button_signer()

    async def worker() -> None:
        while not queue.empty():
            target = queue.get_nowait()
            t = Texts(target.language)
            button = InlineKeyboardButton(
                t._("No more summaries"), callback_data=signer.sign("rs|off", target.chat_id)
            )
            text = texts[target.unit_id, target.language]
            outcome = await send_text(application, target, text, InlineKeyboardMarkup([[button]]))
            if outcome == "sent":
                await records.put((round_id, target.member_id, Kind.RESULTS))
                report.sent += 1
            elif outcome == "unreachable":
                report.unreachable += 1
            elif outcome == "not leading":
                while not queue.empty():  # the leader (maybe another process) resumes
                    queue.get_nowait()
            else:
                report.failed += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, queue.qsize()))):
            group.create_task(worker())
    return report


async def send_text(
    application: Application,
    target: Recipient,
    text: str,
    keyboard: InlineKeyboardMarkup | None = None,
    backoff: float = 1.0,
) -> str:
    """One HTML message to one member: "sent", "unreachable" (403: marked so), "not leading"
    (another process leads and sends instead) or "failed" (the next tick tries again)."""
    services = application.bot_data["services"]
    leader = application.bot_data.get("leader")
    if leader is not None and leader.fenced and not await asyncio.to_thread(leader.holds):
        return "not leading"  # fencing: another process may lead now; it sends instead
    for attempt in range(NETWORK_RETRIES + 1):
        try:
            await application.bot.send_message(
                target.chat_id, text, reply_markup=keyboard, parse_mode=ParseMode.HTML
            )
            return "sent"
        except Forbidden:
            await asyncio.to_thread(
                set_status, services.db, target.member_id, MemberStatus.UNREACHABLE
            )
            return "unreachable"
        except RetryAfter as exc:  # only when the rate limiter has given up retrying
            await asyncio.sleep(seconds_of(exc.retry_after))
        except NetworkError as exc:
            if may_have_arrived(exc):
                # Telegram may have it: sending again could give the member the message twice,
                # so it counts as sent (a rare miss beats a duplicate; docs/operations.md).
                log.warning("no reply to a send; counted as sent, not repeated")
                return "sent"
            if attempt == NETWORK_RETRIES:
                break
            await asyncio.sleep(backoff * 2**attempt)
        except TelegramError as exc:
            log.warning("could not send a message: %s", type(exc).__name__)
            return "failed"
    return "failed"
