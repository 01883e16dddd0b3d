"""The dashboard as staff meet it, in real headless Chromium (Debian's, through Playwright) at
phone and desktop width: logged in by link and as a Mini App, no page wider than the screen,
every image loaded, and an action recorded on the page that the chat and the export then show.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, async_playwright

from local_bot_api import LocalBotApi
from local_bot_api.web_app import opened_as_telegram_does
from survey.enrolment import find_member
from survey.staff_access import issue_login_link
from tests.bot.conftest import make_application, running
from tests.bot.loop_world import MANAGER_A
from tests.bot.loop_world import tree as tree  # the fixture: IFO, Team A and B, a round closed
from tests.conftest import chromium_path
from tests.web.conftest import staff_server
from tests.web.signing import fields_for, signed

ADMIN = 7_100_000_019  # Swedish, at the top of the tree


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def dashboard(db, keys, settings, tree) -> AsyncIterator[str]:
    async with staff_server(db, keys, settings, tree, ADMIN, "sv") as (base, _):
        yield base


async def _fits(page: Page) -> None:
    """No sideways scrolling, and every image loaded."""
    assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    broken = await page.evaluate(
        "[...document.images].filter(i => i.loading !== 'lazy' && "
        "(!i.complete || i.naturalWidth === 0)).map(i => i.src)"
    )
    assert broken == []


async def _log_in_with_a_link(browser: Browser, base: str, db, keys, width: int) -> Page:
    member = find_member(db, keys, MANAGER_A)
    assert member is not None
    token = issue_login_link(db, keys, member.id, "Anna Andersson", datetime.now(UTC), 10)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page.problems = problems  # type: ignore[attr-defined]  # kept with the page for the checks
    await page.goto(f"{base}/login/{token}")
    await page.get_by_role("button", name="Logga in").click()  # the installation's language
    await page.locator("h1", has_text="Team A").wait_for()
    return page


@pytest.mark.parametrize("width", [390, 1280])
async def test_a_manager_logs_in_by_link_reads_and_records_an_action(
    browser: Browser, dashboard: str, db, keys, settings, tree, width: int, tmp_path: Path
) -> None:
    page = await _log_in_with_a_link(browser, dashboard, db, keys, width)
    assert await page.locator("#todo").count() == 1
    await _fits(page)
    await page.get_by_role("link", name="Team A").first.click()
    await page.locator("#indices").wait_for()
    await page.wait_for_load_state("networkidle")
    await _fits(page)
    # Trends per area on demand: the chart loads when opened.
    area = page.locator("#trends details").first
    await area.locator("summary").click()
    chart = area.locator("img")
    await chart.wait_for()
    await page.wait_for_load_state("networkidle")
    assert await chart.evaluate("image => image.complete && image.naturalWidth > 0")
    await page.screenshot(path=str(tmp_path / f"unit-{width}.png"), full_page=True)

    due = (datetime.now(UTC).date() + timedelta(days=21)).isoformat()
    record = page.locator("details.record")
    if await record.get_attribute("open") is None:
        await record.locator("summary").click()
    await record.get_by_label("What will be done").fill("Mentor <b>for</b> every new worker")
    await record.get_by_label("Owner").fill("Anna")
    await record.get_by_label("Due").fill(due)
    await record.get_by_role("button", name="Record the action").click()
    await page.locator(".saved").wait_for()
    assert await page.locator(".card.action .label").first.inner_text() == (
        "Mentor <b>for</b> every new worker"  # shown as written, never as markup
    )
    await _fits(page)
    assert page.problems == []  # type: ignore[attr-defined]  # no script error, no CSP refusal

    # The export the page offers has it.
    cookies = await page.context.cookies()
    jar = {c["name"]: c["value"] for c in cookies}
    async with aiohttp.ClientSession(cookies=jar) as http:
        team_a = tree["a"].id
        async with http.get(f"{dashboard}/dashboard/unit/{team_a}/report.xlsx") as response:
            book = load_workbook(io.BytesIO(await response.read()))
    titles = [str(row[0]) for row in book["Actions"].iter_rows(values_only=True)]
    assert "Mentor <b>for</b> every new worker" in titles

    # And the chat's /actions shows it.
    async with LocalBotApi() as api, running(make_application(db, keys, settings, api)):
        api.send_text(MANAGER_A, "/actions", language="en")
        shown = "Mentor &lt;b&gt;for&lt;/b&gt; every new worker"
        await api.wait_for(lambda: any(shown in text for text in api.texts(MANAGER_A)))


async def test_a_swedish_admin_opens_it_as_a_mini_app(browser: Browser, dashboard: str) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 900})
    page = await context.new_page()
    init_data = signed(fields_for(ADMIN, datetime.now(UTC)))
    await page.goto(opened_as_telegram_does(f"{dashboard}/dashboard", init_data))
    await page.locator("h1", has_text="IFO").wait_for()
    assert await page.locator("#todo h2").inner_text() == "Att göra nu"
    assert await page.get_by_role("button", name="Logga ut").count() == 1
    await page.wait_for_load_state("networkidle")
    await _fits(page)
    units = await page.locator("#units li a").all_inner_texts()
    assert units == ["IFO", "Team A", "Team B"]


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_pages_around_logging_in_fit_the_screen(
    browser: Browser, dashboard: str, width: int
) -> None:
    """The welcome page, a login link's page, a used link's refusal, "not found" and the page
    on how figures protect people: none scrolls sideways."""
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    for path in ("/dashboard", "/login/" + "x" * 43, "/dashboard/figures"):
        await page.goto(dashboard + path)
        await _fits(page)
    await page.goto(dashboard + "/login/" + "x" * 43)
    await page.get_by_role("button", name="Logga in").click()
    await page.locator("h1", has_text="Inte gjort").wait_for()
    assert "redan använd" in await page.inner_text("main")
    await _fits(page)
