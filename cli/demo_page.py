"""The check-in page in `pulse demo`: the same web server `pulse run` serves, on 127.0.0.1, and
the demo's workers answering through it exactly as the page does (open, then send, with
initData the local Telegram signs), and the link that lets a newcomer answer one themself.

The invitations name a public HTTPS address, as Telegram requires; the demo has none, so its
workers (and the newcomer) reach the same paths on the local server instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.context import CheckinPage
from local_bot_api import LocalBotApi, Sent
from local_bot_api.web_app import init_data_for, opened_as_telegram_does
from survey.crypto import KeyRing
from survey.enrolment import find_member
from survey.intake import SubmissionIntake
from survey.questions import QuestionSet
from survey.settings import SurveySettings
from survey.staff_access import issue_login_link
from survey.storage import Database
from web.checkin import CheckinDesk
from web.dashboard import DashboardDesk
from web.server import WebServer, build_web_app, checkin_address
from web.settings import WebSettings

#: The address the demo's invitations name (".invalid" can never be a real host).
DEMO_PUBLIC = "https://staff-pulse.demo.invalid"


def demo_page() -> CheckinPage:
    """The bot's side: web_app buttons to the page, which workers use unless they chose."""
    return CheckinPage(lambda round_id, language: checkin_address(DEMO_PUBLIC, round_id, language))


def demo_web_server(
    db: Database,
    keys: KeyRing,
    intake: SubmissionIntake,
    bot_token: str,
    clock: Callable[[], datetime],
    survey: SurveySettings,
    port: int = 0,
) -> WebServer:
    """The page's server over the demo's database, sharing the bot's intake and clock, with
    the staff's dashboard."""
    settings = WebSettings(
        _env_file=None,
        public_url=DEMO_PUBLIC,
        # Every demo worker comes from 127.0.0.1: one address for a whole municipality.
        web_address_requests_per_minute=1_000_000,
        # The newcomer's link is printed once; it should still work after lunch.
        init_data_max_age_seconds=86_400,
    )
    desk = CheckinDesk(db, keys, intake, bot_token, settings, language="sv", clock=clock)
    # The dashboard is opened at this server's own address (no proxy in the demo): its forms
    # are checked against that origin.
    dashboard = DashboardDesk(
        db,
        keys,
        WebSettings(_env_file=None),
        survey,
        bot_token,
        clock=clock,
    )
    return WebServer(build_web_app(desk, dashboard), "127.0.0.1", port)


def local_address(base: str, message: Sent) -> str | None:
    """Where the message's Answer button leads, on the local server; None for chat buttons."""
    pages = message.web_apps()
    if not pages:
        return None
    return base + pages[0][1].removeprefix(DEMO_PUBLIC)


async def answer_on_page(
    http: aiohttp.ClientSession,
    api: LocalBotApi,
    user_id: int,
    address: str,
    pick: Callable[[str, int], int],
) -> int:
    """One check-in as the page sends it; ``pick(item key, options)`` chooses an option.
    Returns the requests made (the page, open, send)."""
    async with http.get(address) as page:
        page.raise_for_status()
    round_id = int(parse_qs(urlsplit(address).query)["round"][0])
    base = address.split("/checkin", 1)[0]
    body = {"init_data": init_data_for(user_id, api.token, language="sv"), "round": round_id}
    async with http.post(base + "/checkin/open?lang=sv", json=body) as response:
        opened = await response.json()
    if opened["state"] != "open":
        return 2
    answers = {item["key"]: pick(item["key"], len(item["labels"])) for item in opened["items"]}
    async with http.post(base + "/checkin/send?lang=sv", json={**body, "answers": answers}) as sent:
        if sent.status != 200:
            raise RuntimeError(f"the page's check-in was refused: {(await sent.json())['state']}")
    return 3


def picker(question_set: QuestionSet, bad: float, rng: random.Random) -> Callable[[str, int], int]:
    """The same choice a person pressing the chat's buttons would make."""
    from cli.simulation import choose

    return lambda key, count: choose(key, question_set, count, bad, rng)


def dashboard_link(db: Database, keys: KeyRing, base: str, user_id: int, now: datetime) -> str:
    """A one-time login link to the dashboard for one of the demo's managers (a day long:
    it is printed once, for a newcomer to open when they like)."""
    member = find_member(db, keys, user_id)
    assert member is not None, "the demo's managers joined"
    token = issue_login_link(db, keys, member.id, "Demo", now, minutes=24 * 60)
    return f"{base}/login/{token}"


def try_it_link(base: str, api: LocalBotApi, user_id: int, round_id: int) -> str:
    """The check-in page as Telegram would open it for one demo worker, for a normal browser."""
    url = f"{base}/checkin?round={round_id}&lang=sv"
    return opened_as_telegram_does(url, init_data_for(user_id, api.token, language="sv"))
