"""The staff dashboard, attacked: login links and sessions that cannot be replayed or fixed,
forms that another site cannot submit, a grant that an id in a URL cannot cross, a worker's
Telegram login that opens nothing; and figures that are exactly the audited report's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from aggregation.exports import report_csv
from aggregation.report import build_report
from survey.actions import list_actions
from survey.enrolment import find_member
from survey.staff_access import access_log, issue_login_link
from survey.storage.models import Member, Role
from tests.bot.loop_world import MANAGER_A, MANAGER_B, SAFETY_A, WORKER_B
from tests.bot.loop_world import tree as tree  # the fixture: IFO, Team A and B, one round closed
from tests.web.conftest import staff_server
from tests.web.signing import fields_for, signed
from web.dashboard import COOKIE, DashboardDesk

ADMIN = 7_100_000_009


@dataclass
class Staff:
    base: str
    desk: DashboardDesk
    http: aiohttp.ClientSession
    tree: dict[str, Any]
    clock: dict[str, datetime]

    def link(self, user: int, name: str = "Anna Andersson") -> str:
        member = find_member(self.desk.db, self.desk.keys, user)
        assert member is not None
        return issue_login_link(
            self.desk.db, self.desk.keys, member.id, name, self.clock["now"], 10
        )

    async def post(
        self,
        path: str,
        data: dict[str, str],
        *,
        origin: str | None = "own",
        cookie: str | None = None,
    ) -> aiohttp.ClientResponse:
        headers = {}
        if origin is not None:
            headers["Origin"] = self.base if origin == "own" else origin
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        return await self.http.post(
            self.base + path, data=data, headers=headers, allow_redirects=False
        )

    async def get(self, path: str, cookie: str | None = None) -> aiohttp.ClientResponse:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        return await self.http.get(self.base + path, headers=headers, allow_redirects=False)

    async def login(self, user: int = MANAGER_A) -> str:
        response = await self.post("/login", {"token": self.link(user)})
        assert response.status == 303, await response.text()
        return response.cookies[COOKIE].value

    async def csrf(self, cookie: str, unit: int) -> str:
        page = await (await self.get(f"/dashboard/unit/{unit}", cookie)).text()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def staff_site(db, keys, settings, tree) -> AsyncIterator[Staff]:
    clock = {"now": datetime.now(UTC)}
    async with (
        staff_server(db, keys, settings, tree, ADMIN, "en", lambda: clock["now"]) as (base, desk),
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
    ):
        yield Staff(base, desk, http, tree, clock)


async def test_a_login_link_works_once_by_post_and_sets_a_strict_cookie(staff_site: Staff) -> None:
    token = staff_site.link(MANAGER_A)
    # A link preview fetches the page: it neither logs in nor uses the link up.
    for _ in range(2):
        page = await staff_site.get(f"/login/{token}")
        assert page.status == 200
        assert COOKIE not in page.cookies
    response = await staff_site.post("/login", {"token": token})
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard"
    cookie = response.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    again = await staff_site.post("/login", {"token": token})
    assert again.status == 403
    assert "redan använd eller har gått ut" in await again.text()  # the installation: sv


async def test_a_login_link_expires_and_a_guessed_one_opens_nothing(staff_site: Staff) -> None:
    token = staff_site.link(MANAGER_A)
    staff_site.clock["now"] += timedelta(minutes=11)
    assert (await staff_site.post("/login", {"token": token})).status == 403
    assert (await staff_site.post("/login", {"token": "A" * 43})).status == 403


async def test_a_login_from_another_site_is_refused(staff_site: Staff) -> None:
    token = staff_site.link(MANAGER_A)
    for origin in (None, "https://evil.example"):
        response = await staff_site.post("/login", {"token": token}, origin=origin)
        assert response.status == 403
    assert (await staff_site.post("/login", {"token": token})).status == 303  # still unused


async def test_a_session_cookie_brought_by_the_browser_is_never_adopted(staff_site: Staff) -> None:
    planted = "attacker-chosen-session-value-0123456789abcdef"
    response = await staff_site.post(
        "/login", {"token": staff_site.link(MANAGER_A)}, cookie=planted
    )
    assert response.cookies[COOKIE].value != planted
    welcome = await (await staff_site.get("/dashboard", planted)).text()
    assert "Skicka /dashboard till boten" in welcome


async def test_overview_names_the_units_and_logout_ends_the_session(staff_site: Staff) -> None:
    cookie = await staff_site.login(ADMIN)
    page = await (await staff_site.get("/dashboard", cookie)).text()
    assert "IFO" in page
    assert "Team A" in page
    assert "Team B" in page
    assert "To do now" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    out = await staff_site.post("/logout", {"csrf": csrf.group(1)}, cookie=cookie)
    assert out.status == 303
    assert (
        "Skicka /dashboard till boten" in await (await staff_site.get("/dashboard", cookie)).text()
    )


async def test_another_units_id_is_not_found_like_a_unit_that_does_not_exist(
    staff_site: Staff,
) -> None:
    cookie = await staff_site.login(MANAGER_A)
    team_b = staff_site.tree["b"].id
    theirs = await staff_site.get(f"/dashboard/unit/{team_b}", cookie)
    nowhere = await staff_site.get("/dashboard/unit/999999", cookie)
    assert theirs.status == nowhere.status == 404
    assert await theirs.text() == await nowhere.text()
    for path in ("chart/trend.png", "report.csv", "report.xlsx"):
        assert (await staff_site.get(f"/dashboard/unit/{team_b}/{path}", cookie)).status == 404
    mine = await staff_site.get(f"/dashboard/unit/{staff_site.tree['a'].id}", cookie)
    assert mine.status == 200


async def test_a_workers_telegram_login_opens_nothing_and_a_managers_does(
    staff_site: Staff,
) -> None:
    async def telegram(user: int, forge: bool = False) -> aiohttp.ClientResponse:
        init_data = signed(fields_for(user, datetime.now(UTC)))
        if forge:
            init_data = init_data.replace(f"%3A{user}", f"%3A{MANAGER_A}")
        return await staff_site.http.post(
            staff_site.base + "/dashboard/login/telegram",
            json={"init_data": init_data},
            headers={"Origin": staff_site.base},
        )

    worker = await telegram(WORKER_B)
    assert worker.status == 403
    assert COOKIE not in worker.cookies
    forged = await telegram(WORKER_B, forge=True)
    assert forged.status == 401
    manager = await telegram(MANAGER_A)
    assert manager.status == 200
    cookie = manager.cookies[COOKIE].value
    assert "Team A" in await (await staff_site.get("/dashboard", cookie)).text()


async def test_forms_need_our_origin_and_the_sessions_token(staff_site: Staff) -> None:
    cookie = await staff_site.login(MANAGER_A)
    team_a = staff_site.tree["a"].id
    csrf = await staff_site.csrf(cookie, team_a)
    due = (staff_site.clock["now"].date() + timedelta(days=14)).isoformat()
    action = {"title": "Mentors", "owner": "Anna", "due": due, "area": ""}
    path = f"/dashboard/unit/{team_a}/actions"
    assert (await staff_site.post(path, action, cookie=cookie)).status == 403  # no token
    wrong = {**action, "csrf": "x" * len(csrf)}
    assert (await staff_site.post(path, wrong, cookie=cookie)).status == 403
    evil = await staff_site.post(
        path, {**action, "csrf": csrf}, cookie=cookie, origin="https://evil.example"
    )
    assert evil.status == 403
    assert list_actions(staff_site.desk.db) == []
    done = await staff_site.post(path, {**action, "csrf": csrf}, cookie=cookie)
    assert done.status == 303
    assert [a.action.title for a in list_actions(staff_site.desk.db)] == ["Mentors"]
    page = await (await staff_site.get(f"/dashboard/unit/{team_a}?saved=1", cookie)).text()
    assert "Mentors" in page
    assert "Saved." in page


async def test_a_safety_representative_comments_and_records_nothing(staff_site: Staff) -> None:
    cookie = await staff_site.login(SAFETY_A)
    team_a = staff_site.tree["a"].id
    csrf = await staff_site.csrf(cookie, team_a)
    due = (staff_site.clock["now"].date() + timedelta(days=14)).isoformat()
    refused = await staff_site.post(
        f"/dashboard/unit/{team_a}/actions",
        {"title": "x", "owner": "y", "due": due, "csrf": csrf},
        cookie=cookie,
    )
    assert refused.status == 403
    assert list_actions(staff_site.desk.db) == []


async def test_a_change_of_role_or_unit_and_idleness_end_the_session(staff_site: Staff) -> None:
    db = staff_site.desk.db
    cookie = await staff_site.login(MANAGER_B)
    assert "Team B" in await (await staff_site.get("/dashboard", cookie)).text()
    with db.session() as session:
        member = session.exec(select(Member).where(Member.role == Role.MANAGER)).all()
        manager_b = next(m for m in member if m.unit_id == staff_site.tree["b"].id)
        manager_b.unit_id = staff_site.tree["a"].id  # moved: another grant
    assert "Skicka /dashboard" in await (await staff_site.get("/dashboard", cookie)).text()
    cookie = await staff_site.login(MANAGER_A)
    staff_site.clock["now"] += timedelta(minutes=31)
    assert "Skicka /dashboard" in await (await staff_site.get("/dashboard", cookie)).text()


async def test_the_dashboards_figures_and_exports_are_the_reports(staff_site: Staff) -> None:
    cookie = await staff_site.login(MANAGER_A)
    team_a = staff_site.tree["a"].id
    report = build_report(staff_site.desk.db, team_a)
    page = await (await staff_site.get(f"/dashboard/unit/{team_a}", cookie)).text()
    from aggregation.html_report import report_sections
    from survey.i18n import Texts

    for row in report_sections(report, Texts("en"), "en")["indices"]:
        assert f'<div class="value">{row["value"]}</div>' in page
    csv = await (await staff_site.get(f"/dashboard/unit/{team_a}/report.csv", cookie)).read()
    assert csv == report_csv(report, "en")
    xlsx = await staff_site.get(f"/dashboard/unit/{team_a}/report.xlsx", cookie)
    assert xlsx.status == 200
    assert (await xlsx.read())[:2] == b"PK"
    for chart in ("chart/trend.png", "chart/participation.png"):
        image = await staff_site.get(f"/dashboard/unit/{team_a}/{chart}", cookie)
        assert image.status == 200
        assert (await image.read())[:4] == b"\x89PNG"


async def test_every_opening_of_a_units_page_is_logged_with_who(staff_site: Staff) -> None:
    cookie = await staff_site.login(MANAGER_A)
    team_a = staff_site.tree["a"].id
    await staff_site.get(f"/dashboard/unit/{team_a}", cookie)
    log = access_log(
        staff_site.desk.db,
        staff_site.desk.keys,
        staff_site.clock["now"] - timedelta(hours=1),
        team_a,
    )
    assert (
        [(a.unit, a.role, a.name) for a in log]
        == [
            ("Team A", Role.MANAGER, "Anna Andersson"),  # the overview is Team A's, then the page
            ("Team A", Role.MANAGER, "Anna Andersson"),
        ][: len(log)]
    )
    assert len(log) >= 1


async def test_logins_from_one_address_are_rate_limited(staff_site: Staff) -> None:
    statuses = [(await staff_site.post("/login", {"token": "wrong" * 9})).status for _ in range(12)]
    assert statuses[:10] == [403] * 10
    assert statuses[10:] == [429, 429]


async def test_pages_carry_no_inline_script(staff_site: Staff) -> None:
    cookie = await staff_site.login(ADMIN)
    for path in ("/dashboard", f"/dashboard/unit/{staff_site.tree['a'].id}", "/dashboard/figures"):
        response = await staff_site.get(path, cookie)
        page = await response.text()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
        assert " style=" not in page


async def test_answers_of_an_open_round_change_no_figure(
    staff_site: Staff, db, keys, settings
) -> None:
    """A round still open shows nothing: its answers, however extreme, move no figure."""
    from survey.questions import load_version
    from survey.questions.locked import lock_items
    from survey.rounds import open_round
    from survey.submissions import submit

    cookie = await staff_site.login(MANAGER_A)
    team_a = staff_site.tree["a"].id

    def figures(page: str) -> list[str]:
        return re.findall(r'<div class="value">([^<]*)</div>', page)

    before = figures(await (await staff_site.get(f"/dashboard/unit/{team_a}", cookie)).text())
    assert before
    row, question_set = load_version(db, "social-work-weekly")
    items = lock_items([(row.id, question_set)], 1)
    now = datetime.now(UTC)
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=staff_site.tree["root"].id,
        items=items,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=2),
        question_set_versions=[row.id],
    )
    with db.session() as session:
        workers = session.exec(
            select(Member).where(Member.unit_id == team_a, Member.role == Role.WORKER)
        ).all()
    for worker in workers:
        submit(
            db,
            keys,
            member_id=worker.id,
            round_id=survey_round.id,
            answers={i.key: i.options[0] for i in items if not i.text and i.required},
        )
    staff_site.desk.forget_reports()
    after = figures(await (await staff_site.get(f"/dashboard/unit/{team_a}", cookie)).text())
    assert after == before


async def test_the_units_own_manager_writes_the_note_and_nobody_else(staff_site: Staff) -> None:
    from survey.storage.models import RoundNote

    team_a = staff_site.tree["a"].id
    for user, status in ((SAFETY_A, 403), (ADMIN, 403), (MANAGER_A, 303)):
        cookie = await staff_site.login(user)
        csrf = await staff_site.csrf(cookie, team_a)
        response = await staff_site.post(
            f"/dashboard/unit/{team_a}/note",
            {"csrf": csrf, "text": "Tack <alla>!"},
            cookie=cookie,
        )
        assert response.status == status, user
    with staff_site.desk.db.session() as session:
        notes = session.exec(select(RoundNote)).all()
    assert [(n.unit_id, n.text) for n in notes] == [(team_a, "Tack <alla>!")]


def test_a_worker_gets_no_login_link_and_no_session(db, keys, tree) -> None:
    """The dashboard's tables hold staff only: a worker can have neither a link nor a
    session, so nothing there can say when a worker was active."""
    from survey.staff_access import LoginError, start_session

    worker = find_member(db, keys, WORKER_B)
    assert worker is not None
    with pytest.raises(LoginError):
        issue_login_link(db, keys, worker.id, "W", datetime.now(UTC), 10)
    with pytest.raises(LoginError):
        start_session(db, keys, worker, "W", datetime.now(UTC))


async def test_a_note_after_the_results_went_out_is_refused_in_words(staff_site: Staff) -> None:
    from survey.claims import Claim, Kind, claim_many
    from survey.storage.models import RoundNote

    team_a = staff_site.tree["a"].id
    worker = find_member(staff_site.desk.db, staff_site.desk.keys, WORKER_B)
    assert worker is not None
    claim_many(staff_site.desk.db, [Claim(Kind.RESULTS, staff_site.tree["round"].id, worker.id)])
    cookie = await staff_site.login(MANAGER_A)
    csrf = await staff_site.csrf(cookie, team_a)
    response = await staff_site.post(
        f"/dashboard/unit/{team_a}/note", {"csrf": csrf, "text": "Late"}, cookie=cookie
    )
    assert response.status == 400
    assert "have already gone out" in await response.text()
    with staff_site.desk.db.session() as session:
        assert session.exec(select(RoundNote)).all() == []
