"""What the scheduler sends about rounds: invitations, reminders, reports and results.

Each message goes through the outbox (bot.outbox): claimed before it is sent, under the fence,
so a restart continues with exactly those not yet claimed, and two processes never send the
same message.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from aggregation.report import ReportError, build_report
from aggregation.worker_summary import WorkerSummary, worker_summary
from bot.access import record_keyboard
from bot.buttons import Results as ButtonResults
from bot.buttons import data as button_data
from bot.checkin import CheckinState, ItemView, Screen, page_screen
from bot.context import services_from, views_for
from bot.messages import report_text, worker_summary_text
from bot.one_message import Outcome
from bot.outbox import Part, outbox_of
from bot.shared import App
from survey.claims import Claim, Kind
from survey.deliveries import Recipient, pending, report_recipients, results_recipients
from survey.i18n import Texts
from survey.questions.locked import LockedItem, estimated_minutes
from survey.roles import ACTORS
from survey.storage.models import SurveyRound

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    #: This process found it no longer leads and stopped; the leader sends the rest.
    stopped: bool = False

    def count(self, outcome: Outcome) -> None:
        if outcome == "sent":
            self.sent += 1
        elif outcome == "unreachable":  # send_text marked them so
            self.unreachable += 1
        elif outcome == "failed":
            self.failed += 1
        elif outcome == "not leading":
            self.stopped = True


#: One message (in one or more parts) for one member, and the claim it goes out under.
Send = tuple[Claim, Recipient, list[Part]]


async def broadcast(
    application: App, sends: list[Send], backoff: float = 1.0, concurrency: int = 40
) -> SendReport:
    """Send each once, several in flight at once: enough to reach Telegram's 30 messages/s
    with a second of latency each (the rate limiter, not this loop, keeps within Telegram's
    limits). A process that finds it no longer leads stops; the leader resumes from the
    claims."""
    report = SendReport()
    queue: asyncio.Queue[Send] = asyncio.Queue()
    for send in sends:
        queue.put_nowait(send)
    outbox = outbox_of(application)

    async def worker() -> None:
        while not queue.empty():
            claim, target, parts = queue.get_nowait()
            outcome = await outbox.send(application, claim, target, parts, backoff)
            report.count(outcome)
            if outcome == "not leading":
                while not queue.empty():
                    queue.get_nowait()

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(sends)))):
            group.create_task(worker())
    return report


async def deliver(
    application: App,
    survey_round: SurveyRound,
    kind: Kind,
    backoff: float = 1.0,
    concurrency: int = 40,
) -> SendReport:
    """Send ``kind`` (invitation or reminder) for ``survey_round`` to everyone who has not
    answered and not had it yet."""
    services = services_from(application)
    targets = await asyncio.to_thread(pending, services.db, services.keys, survey_round.id, kind)
    views = {
        (target.language, target.unit_id): await views_for(
            application.bot_data, survey_round, target.language, target.unit_id
        )
        for target in targets
    }
    sends: list[Send] = [
        (
            Claim(kind, survey_round.id, target.member_id),
            target,
            [
                _checkin_message(
                    application, survey_round, target, kind, views[target.language, target.unit_id]
                )
            ],
        )
        for target in targets
    ]
    return await broadcast(application, sends, backoff, concurrency)


def _checkin_message(
    application: App,
    survey_round: SurveyRound,
    target: Recipient,
    kind: Kind,
    views: list[ItemView],
) -> Part:
    services = services_from(application)
    t = Texts(target.language)
    page = services.page_for(survey_round.id, target.language, target.checkin_channel)
    if page is not None:
        question, keyboard = page_screen(t, page)
    else:
        screen = Screen(views, t, services.keys.button_signer(), target.chat_id)
        question, keyboard = screen.render(CheckinState(survey_round.id, ()))
    if kind == Kind.INVITATION:
        heading = _invitation_heading(t, [view.item for view in views])
    else:
        heading = t._("A reminder: this week's check-in is still open, and closes soon.")
    return "<i>" + html.escape(heading) + "</i>\n\n" + question, keyboard


async def deliver_reports(application: App, round_id: int) -> SendReport:
    """After a round closed: each manager gets the report of the unit they were granted. A
    report must not be lost: one that a crash left unconfirmed is sent again (survey.claims)."""
    services = services_from(application)
    report = SendReport()
    targets = await asyncio.to_thread(report_recipients, services.db, services.keys, round_id)
    outbox = outbox_of(application)
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
        except ReportError as exc:
            log.warning("could not build a report: %s", type(exc).__name__)
            report.failed += 1
            continue
        messages = report_text(built, target.language)
        parts: list[Part] = [(message, None) for message in messages]
        if target.role in ACTORS and built.rounds:
            # Under the report's last part: record what will be done about it.
            parts[-1] = (
                messages[-1],
                record_keyboard(
                    Texts(target.language),
                    target.unit_id,
                    functools.partial(
                        button_data, signer=services.keys.button_signer(), user_id=target.chat_id
                    ),
                ),
            )
        outcome = await outbox.send(
            application, Claim(Kind.REPORT, round_id, target.member_id), target, parts
        )
        report.count(outcome)
        if outcome == "not leading":
            break
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
    application: App, round_id: int, concurrency: int = 40
) -> SendReport:
    """After a round closed (and the manager had time to add a note): each active worker gets
    their group's results, once. Summaries are built once per unit and language."""
    services = services_from(application)
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
    signer = services.keys.button_signer()
    sends: list[Send] = []
    for target in targets:
        summary = summaries[target.unit_id]
        if summary is None:
            continue
        key = (target.unit_id, target.language)
        if key not in texts:
            texts[key] = worker_summary_text(summary, target.language)
        t = Texts(target.language)
        button = InlineKeyboardButton(
            t._("No more summaries"),
            callback_data=button_data(ButtonResults("off"), signer, target.chat_id),
        )
        claim = Claim(Kind.RESULTS, round_id, target.member_id)
        sends.append((claim, target, [(texts[key], InlineKeyboardMarkup([[button]]))]))
    return await broadcast(application, sends, concurrency=concurrency)
