"""The check-in page's requests: open (the questions, or why there are none) and send.

Each request carries Telegram's signed ``initData`` (web.init_data); the member behind it is
found through the keyed pseudonym (P4), never stored or logged. What may be answered and how an
answer is stored is survey/'s business: the questions and verdicts come from
survey.checkin_form, the answers go through the same intake as the chat's Send (sealing, one
answer per round, the participation mark in the same transaction, group commit: P1-P3).
Nothing partial is kept anywhere (P5): until Send, the answers live only in the open page.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from survey.checkin_form import (
    AskedItem,
    Opening,
    Verdict,
    asked_of,
    chosen_answers,
    open_checkin,
    round_form,
)
from survey.crypto import KeyRing
from survey.i18n import Texts
from survey.intake import SubmissionIntake
from survey.settings import SUPPORTED_LANGUAGES
from survey.storage import Database, DatabaseUnavailableError
from survey.storage.models import Member, SurveyRound
from survey.submissions import AlreadyAnsweredError, RoundNotOpenError, SubmissionError
from web.init_data import InitData, InitDataError, validate_init_data
from web.limits import RateLimit
from web.settings import WebSettings

log = logging.getLogger(__name__)

#: Bigger bodies than a check-in of the longest question set are refused unread.
MAX_BODY = 16 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CheckinDesk:
    """What the page's requests need: the survey side (shared with the bot in `pulse run`, so
    that both go through one intake), the bot's token to check Telegram's signature with, the
    web's settings and the clock."""

    db: Database
    keys: KeyRing
    intake: SubmissionIntake
    bot_token: str
    settings: WebSettings
    #: The installation's language, for refusals before anyone is known.
    language: str = "sv"
    clock: Callable[[], datetime] = _now
    forms: dict[tuple[int, str], list[AskedItem]] = field(default_factory=dict)
    per_member: RateLimit = field(init=False)

    def __post_init__(self) -> None:
        self.per_member = RateLimit(self.settings.web_member_requests_per_minute)

    async def form(self, survey_round: SurveyRound, language: str) -> list[AskedItem]:
        """A round's questions in ``language``: locked at open (P7), so kept for its life."""
        key = (survey_round.id, language)
        if key not in self.forms:
            self.forms[key] = await asyncio.to_thread(round_form, self.db, survey_round, language)
        return self.forms[key]


class Refusal(Exception):
    """A request answered with a clear message and nothing stored."""

    def __init__(self, status: int, state: str, message: str) -> None:
        super().__init__(state)
        self.status = status
        self.state = state
        self.message = message

    def response(self) -> web.Response:
        return web.json_response({"state": self.state, "message": self.message}, status=self.status)


@dataclass(frozen=True)
class _Request:
    init: InitData
    round_id: int | None
    answers: object


@dataclass(frozen=True)
class _Open:
    """A request from a member who may answer now: what they sent, who and which round they
    are, their language, and the questions they are asked."""

    posted: _Request
    member: Member
    round: SurveyRound
    t: Texts
    form: list[AskedItem]


async def _member_may_answer(request: web.Request, desk: CheckinDesk, status: int) -> _Open:
    """Read and check the request, then whether its member may answer now; any other verdict
    is refused with ``status`` and its words."""
    posted = await _read(request, desk)
    opening, t = await _opening(desk, posted)
    if opening.verdict != Verdict.OPEN:
        raise _verdict_refusal(opening, t, status=status)
    assert opening.round is not None, "an open verdict names its round"
    assert opening.member is not None, "an open verdict names its member"
    form = asked_of(await desk.form(opening.round, t.language), opening.member.unit_id)
    return _Open(posted, opening.member, opening.round, t, form)


async def open_checkin_page(request: web.Request) -> web.Response:
    """The questions of the round the page was opened for, or why there are none (said with
    200: the page shows it, nothing went wrong)."""
    desk: CheckinDesk = request.app[DESK]
    try:
        ready = await _member_may_answer(request, desk, status=200)
    except Refusal as refusal:
        return refusal.response()
    except DatabaseUnavailableError:
        return _database_down(desk, request)
    return web.json_response(
        {
            "state": "open",
            "round": ready.round.id,
            "language": ready.t.language,
            "texts": page_texts(ready.t),
            "items": [
                {
                    "key": asked.item.key,
                    "text": asked.text,
                    "labels": list(asked.labels),
                    "required": asked.item.required,
                }
                for asked in ready.form
            ],
        }
    )


async def send_checkin(request: web.Request) -> web.Response:
    """Seal and store the answers through the intake; thanks only once committed."""
    desk: CheckinDesk = request.app[DESK]
    try:
        ready = await _member_may_answer(request, desk, status=409)
        await _submit(desk, ready)
    except Refusal as refusal:
        return refusal.response()
    except DatabaseUnavailableError:
        return _database_down(desk, request)
    return web.json_response(
        {
            "state": "sent",
            "message": ready.t._(
                "Thank you! Your answers are sealed and saved, with no link to you."
            ),
        }
    )


async def _submit(desk: CheckinDesk, ready: _Open) -> None:
    t = ready.t
    try:
        await desk.intake.submit(
            member_id=ready.member.id,
            round_id=ready.round.id,
            answers=chosen_answers(ready.form, ready.posted.answers),
            now=desk.clock(),
        )
    except AlreadyAnsweredError as exc:
        raise _verdict_refusal(Opening(Verdict.ANSWERED), t, status=409) from exc
    except RoundNotOpenError as exc:
        raise _verdict_refusal(Opening(Verdict.CLOSED), t, status=409) from exc
    except SubmissionError as exc:
        raise Refusal(
            400,
            "invalid",
            t._("These answers could not be saved. Close the page and open it again."),
        ) from exc


async def _read(request: web.Request, desk: CheckinDesk) -> _Request:
    """The body, parsed once and strictly, and its initData checked: nothing else is read
    from a request before Telegram's signature on it holds."""
    t = Texts(_asked_language(request, desk))
    if request.content_type != "application/json":
        raise Refusal(415, "malformed", t._("This request could not be read."))
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refusal(413, "malformed", t._("This request could not be read."))
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Refusal(413, "malformed", t._("This request could not be read."))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, "malformed", t._("This request could not be read.")) from exc
    if not isinstance(body, dict) or not isinstance(body.get("init_data"), str):
        raise Refusal(400, "malformed", t._("This request could not be read."))
    round_id = body.get("round")
    if round_id is not None and (isinstance(round_id, bool) or not isinstance(round_id, int)):
        raise Refusal(400, "malformed", t._("This request could not be read."))
    try:
        init = validate_init_data(
            body["init_data"],
            desk.bot_token,
            max_age=timedelta(seconds=desk.settings.init_data_max_age_seconds),
            # Telegram signed it in real time; only the survey's rules read desk.clock (which
            # `pulse demo` moves through twelve weeks).
            now=datetime.now(UTC),
        )
    except InitDataError as exc:
        if exc.reason == "expired":
            raise Refusal(
                401,
                "expired",
                t._("This page has been open too long. Close it and tap “Answer” again."),
            ) from exc
        raise Refusal(
            401, exc.reason, t._("Open this page from the bot's message in Telegram.")
        ) from exc
    if not desk.per_member.allow(str(init.user.id)):
        raise Refusal(429, "busy", t._("Too many requests at once. Wait a minute and try again."))
    return _Request(init, round_id, body.get("answers"))


async def _opening(desk: CheckinDesk, posted: _Request) -> tuple[Opening, Texts]:
    opening = await asyncio.to_thread(
        open_checkin, desk.db, desk.keys, posted.init.user.id, posted.round_id, desk.clock()
    )
    language = opening.member.language if opening.member is not None else desk.language
    return opening, Texts(language if language in SUPPORTED_LANGUAGES else desk.language)


def _verdict_refusal(opening: Opening, t: Texts, status: int) -> Refusal:
    """Why there is nothing to answer, in the member's words."""
    messages = {
        Verdict.ANSWERED: t._("You have already answered this check-in. Thank you!"),
        Verdict.CLOSED: t._(
            "This check-in has closed. Nothing was saved from this page. When a new one opens, "
            "you will get a message in the chat."
        ),
        Verdict.NOT_ENROLLED: t._(
            "You are not a member of a unit in Staff Pulse. To join, open the invite link your "
            "unit gave you."
        ),
        Verdict.NOT_A_WORKER: t._(
            "Check-ins are answered by workers, not by managers, safety representatives or admins."
        ),
    }
    return Refusal(status, opening.verdict.value, messages[opening.verdict])


def _database_down(desk: CheckinDesk, request: web.Request) -> web.Response:
    log.warning("the database could not be reached; a check-in request was refused")
    t = Texts(_asked_language(request, desk))
    return Refusal(
        503,
        "unavailable",
        t._(
            "Something went wrong on our side and nothing was saved. Please try again in a moment."
        ),
    ).response()


def _asked_language(request: web.Request, desk: CheckinDesk) -> str:
    language = request.query.get("lang", "")
    return language if language in SUPPORTED_LANGUAGES else desk.language


def page_texts(t: Texts) -> dict[str, Any]:
    """Every word the page shows around the questions, in the member's language."""
    return {
        "question": t._("Question {n} of {total}"),
        "back": t._("Back"),
        "skip": t._("Skip"),
        "summary": t._("Your answers"),
        "skipped": t._("(skipped)"),
        "change": t._("Change"),
        "send": t._("Send"),
        "send_question": t._("Send them? They are sealed at once and cannot be tied to you."),
        "nothing_to_send": t._("You skipped every question, so there is nothing to send."),
        "sending": t._("Sending…"),
        "close": t._("Close"),
        "offline": t._("No connection to our server: nothing was sent. Try again."),
    }


#: Where the web application keeps the desk (aiohttp's typed application keys).
DESK = web.AppKey("checkin_desk", CheckinDesk)
