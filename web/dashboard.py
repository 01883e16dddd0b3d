"""The managers', safety representatives' and admins' dashboard: pages of the audited reports,
laid out for a phone, within the reader's grant.

Every figure comes from the audited report builder the bot and the HTML file use
(aggregation.report), so nothing new is published; what staff may see and do is survey/'s to
decide (survey.staff_access for sessions, survey.actions for actions). A unit outside the grant
and a unit that does not exist get the same "not found". Each opening of a unit's page is
logged with who opened it (survey.staff_access).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from aggregation.report import UnitReport, build_report
from survey.crypto import KeyRing
from survey.enrolment import find_member
from survey.i18n import Texts
from survey.settings import SurveySettings
from survey.staff_access import (
    LoginError,
    StaffSession,
    end_session,
    redeem_login_link,
    session_of,
    start_session,
)
from survey.storage import Database
from web.init_data import InitDataError, validate_init_data
from web.limits import RateLimit, client_address
from web.pages import render, see_other
from web.settings import WebSettings

#: The session cookie: host-only, HTTPS only, never readable by a script, never sent from
#: another site.
COOKIE = "__Host-pulse-session"
#: How long a built report is reused: reports change only when a round closes or an action
#: moves (which forgets them at once).
REPORT_SECONDS = 60.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DashboardDesk:
    """What the dashboard's requests need: the survey side, the bot's token (for the Mini App
    login's signature), the settings, the clock, and built reports for a minute."""

    db: Database
    keys: KeyRing
    settings: WebSettings
    survey: SurveySettings
    bot_token: str
    clock: Callable[[], datetime] = _now
    _reports: dict[int, tuple[float, UnitReport]] = field(default_factory=dict)
    logins: RateLimit = field(init=False)

    def __post_init__(self) -> None:
        self.logins = RateLimit(self.settings.login_attempts_per_minute)

    async def report(self, unit_id: int) -> UnitReport:
        cached = self._reports.get(unit_id)
        if cached is not None and time.monotonic() - cached[0] < REPORT_SECONDS:
            return cached[1]
        report = await asyncio.to_thread(
            build_report, self.db, unit_id, change_spread=self.survey.change_spread
        )
        self._reports[unit_id] = (time.monotonic(), report)
        return report

    def forget_reports(self) -> None:
        self._reports.clear()

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.dashboard_idle_minutes)


DASHBOARD = web.AppKey("dashboard", DashboardDesk)


def staff_texts(staff: StaffSession) -> Texts:
    return Texts(staff.member.language)


async def current_staff(request: web.Request) -> StaffSession | None:
    """The logged-in staff member behind the request's cookie, or None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    desk = request.app[DASHBOARD]
    return await asyncio.to_thread(session_of, desk.db, desk.keys, token, desk.clock(), desk.idle)


def same_origin(request: web.Request) -> bool:
    """A POST from our own pages: its Origin is the public address (or, without one, this
    server's own address). A form another site submits carries that site's Origin."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    public = request.app[DASHBOARD].settings.public_url
    expected = public if public else f"{request.scheme}://{request.host}"
    parts = urlsplit(expected)
    return origin == f"{parts.scheme}://{parts.netloc}"


def valid_csrf(staff: StaffSession, posted: str) -> bool:
    return hmac.compare_digest(staff.csrf.encode(), posted.encode())


def not_found(t: Texts) -> web.Response:
    """The same answer for a unit outside the grant and a unit that does not exist."""
    return render(
        "dashboard/message.html.j2",
        t,
        status=404,
        title=t._("Not found"),
        message=t._("There is no such page among your units."),
        staff=None,
    )


def _set_session_cookie(response: web.StreamResponse, token: str) -> None:
    """A browser-session cookie: the server alone decides when the session ends (idle,
    logout, a change of role or grant)."""
    response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="Strict", path="/")


# --- logging in and out ---------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """The page a login link opens: a button that logs in by POST, so that a link preview
    (which only GETs) can neither log in nor use the link up."""
    desk = request.app[DASHBOARD]
    t = Texts(desk.survey.language)
    return render(
        "dashboard/login.html.j2",
        t,
        token=request.match_info["token"],
        staff=None,
    )


async def login_with_link(request: web.Request) -> web.StreamResponse:
    desk = request.app[DASHBOARD]
    t = Texts(desk.survey.language)
    if not same_origin(request):
        return _refused(t, 403, t._("This request did not come from our own page."))
    if not desk.logins.allow(client_address(request, desk.settings.web_trusted_proxies)):
        return _refused(t, 429, t._("Too many requests at once. Wait a minute and try again."))
    form = await request.post()
    token = form.get("token")
    if not isinstance(token, str) or not token:
        return _refused(t, 400, t._("This request could not be read."))
    try:
        member, name = await asyncio.to_thread(
            redeem_login_link, desk.db, desk.keys, token, desk.clock()
        )
        session_token, _ = await asyncio.to_thread(
            start_session, desk.db, desk.keys, member, name, desk.clock()
        )
    except LoginError as exc:
        return _refused(t, 403, exc.problem.in_language(t))
    response = see_other("/dashboard")
    _set_session_cookie(response, session_token)
    return response


async def login_with_telegram(request: web.Request) -> web.Response:
    """The Mini App's login: Telegram's signed initData, checked as for check-ins; a worker's
    opens nothing."""
    desk = request.app[DASHBOARD]
    t = Texts(desk.survey.language)
    if not same_origin(request):
        return web.json_response({"ok": False}, status=403)
    if not desk.logins.allow(client_address(request, desk.settings.web_trusted_proxies)):
        message = t._("Too many requests at once. Wait a minute and try again.")
        return web.json_response({"ok": False, "message": message}, status=429)
    try:
        body = await request.json()
        init = validate_init_data(
            str(body.get("init_data", "")) if isinstance(body, dict) else "",
            desk.bot_token,
            max_age=timedelta(seconds=desk.settings.init_data_max_age_seconds),
            now=datetime.now(UTC),
        )
    except (ValueError, InitDataError):
        message = t._("Open this page from the bot's message in Telegram.")
        return web.json_response({"ok": False, "message": message}, status=401)
    member = await asyncio.to_thread(find_member, desk.db, desk.keys, init.user.id)
    refusal = t._("The dashboard is for managers, safety representatives and admins.")
    if member is None:
        return web.json_response({"ok": False, "message": refusal}, status=403)
    try:
        token, _ = await asyncio.to_thread(
            start_session, desk.db, desk.keys, member, init.user.name, desk.clock()
        )
    except LoginError:
        return web.json_response({"ok": False, "message": refusal}, status=403)
    response = web.json_response({"ok": True})
    _set_session_cookie(response, token)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    desk = request.app[DASHBOARD]
    staff = await current_staff(request)
    if staff is not None:
        form = await request.post()
        if not same_origin(request) or not valid_csrf(staff, str(form.get("csrf", ""))):
            t = staff_texts(staff)
            return _refused(t, 403, t._("This request did not come from our own page."))
        await asyncio.to_thread(end_session, desk.db, request.cookies[COOKIE])
    response = see_other("/dashboard")
    response.del_cookie(COOKIE, path="/")
    return response


def _refused(t: Texts, status: int, message: str) -> web.Response:
    return render(
        "dashboard/message.html.j2",
        t,
        status=status,
        title=t._("Not done"),
        message=message,
        staff=None,
    )
