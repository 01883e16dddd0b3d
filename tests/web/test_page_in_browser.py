"""The check-in page as a worker meets it: real headless Chromium (Debian's, driven by
Playwright), opened the way Telegram opens a Mini App (signed initData in the URL fragment),
answered by tapping and by keyboard, at phone and desktop width, until the answer is counted in
the closed round; and what the page must never do: load from another host, store anything in
the browser, scroll sideways, or stay open after thanking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from aggregation.close import close_round
from local_bot_api.web_app import opened_as_telegram_does
from survey.enrolment import create_unit, enrol_member
from survey.questions import import_question_set, load_question_set_file, load_version
from survey.questions.locked import lock_items
from survey.rounds import open_round
from tests.conftest import World, chromium_path
from tests.web.conftest import Site, desk_for, serve
from tests.web.signing import fields_for, signed

SETS = Path(__file__).resolve().parents[2] / "config" / "question_sets"
#: Records what the page tells the Telegram client, as the Android client's bridge receives it.
TELEGRAM_CLIENT = """
window.__events = [];
window.TelegramWebviewProxy = { postEvent: (type, data) => window.__events.push([type, data]) };
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def weekly_world(db, keys, settings) -> World:
    """Twenty workers enrolled before the default set's first week opens (a round counts the
    members it has when it opens, P7: the bot's `org` fixture opens first)."""
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    row, question_set = load_version(db, "social-work-weekly")
    unit = create_unit(db, "Barnutredning Norr")
    ids = [7_200_000_000 + n for n in range(20)]
    members = [enrol_member(db, keys, telegram_user_id=i, chat_id=i, unit_id=unit.id) for i in ids]
    now = datetime.now(UTC)
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=unit.id,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
        question_set_versions=[row.id],
    )
    return World(db, keys, settings, unit, [unit], members, ids, survey_round)


@pytest.fixture
async def weekly_site(weekly_world: World) -> AsyncIterator[Site]:
    async for running in serve(desk_for(weekly_world), weekly_world):
        yield running


async def _open(browser: Browser, site: Site, user: int, width: int) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport={"width": width, "height": 800})
    page = await context.new_page()
    await page.add_init_script(TELEGRAM_CLIENT)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    url = site.base + f"/checkin?round={site.world.round.id}&lang=sv"
    await page.goto(opened_as_telegram_does(url, signed(fields_for(user, datetime.now(UTC)))))
    page.problems = problems  # type: ignore[attr-defined]  # kept with the page for the checks
    return page, requested


async def _overflows(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


async def _events(page: Page) -> list[str]:
    return [event for event, _ in await page.evaluate("window.__events")]


@pytest.mark.parametrize("width", [390, 1280])
async def test_a_worker_answers_on_the_page_and_is_counted(
    browser: Browser, weekly_site: Site, width: int, tmp_path: Path
) -> None:
    site = weekly_site
    page, requested = await _open(browser, site, site.world.telegram_ids[0], width)
    progress = page.locator(".progress")
    await progress.wait_for()
    assert await progress.inner_text() == "Fråga 1 av 7"
    assert await _events(page) == ["web_app_ready", "web_app_expand"]
    heading = page.locator("h1")
    first_question = await heading.inner_text()
    # The options are one group named by the question, for a screen reader; the heading has
    # the focus, so the question is read first.
    group = page.get_by_role("group", name=first_question)
    assert await group.get_by_role("button").count() == 5
    assert await page.evaluate("document.activeElement.tagName") == "H1"
    assert not await _overflows(page)
    assert "null" not in await page.inner_text("main")
    await page.screenshot(path=str(tmp_path / f"question-{width}.png"))

    # Question 1 by keyboard: Tab to the third option, Enter.
    for _ in range(3):
        await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.locator(".progress", has_text="Fråga 2 av 7").wait_for()
    # Back, and question 1 shows the answer chosen.
    await page.get_by_role("button", name="« Tillbaka").click()
    chosen = page.locator("button[aria-pressed=true]")
    assert await chosen.count() == 1
    await chosen.click()
    # The rest by tapping the first option; an optional question is skipped.
    for n in range(2, 8):
        await page.locator(".progress", has_text=f"Fråga {n} av 7").wait_for()
        skip = page.get_by_role("button", name="Hoppa över »")
        if n == 7 and await skip.count():
            await skip.click()
        else:
            await page.locator(".options button").first.click()
        assert not await _overflows(page)
    await page.locator("h1", has_text="Dina svar").wait_for()
    assert await page.locator("ol.summary li").count() == 7
    # Change the second answer from the summary: back to the summary afterwards.
    await page.locator("ol.summary li").nth(1).get_by_role("button").click()
    await page.locator(".progress", has_text="Fråga 2 av 7").wait_for()
    await page.locator(".options button").nth(4).click()
    await page.locator("h1", has_text="Dina svar").wait_for()
    assert not await _overflows(page)
    await page.screenshot(path=str(tmp_path / f"summary-{width}.png"), full_page=True)
    await page.get_by_role("button", name="Skicka").click()
    await page.locator("h1", has_text="Tack!").wait_for()
    await page.screenshot(path=str(tmp_path / f"thanks-{width}.png"))
    for _ in range(50):  # the page closes itself after showing the thanks (CSP forbids the
        if "web_app_close" in await _events(page):  # eval behind wait_for_function)
            break
        await asyncio.sleep(0.1)
    assert (await _events(page))[-1] == "web_app_close"

    # What the page must never do.
    assert all(url.startswith(site.base) for url in requested), requested
    assert await page.context.cookies() == []
    assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.problems == []  # type: ignore[attr-defined]  # no script error, no CSP refusal
    assert width in (390, 1280)

    # Opened again from the same invitation: already answered, nothing to fill in.
    again, _ = await _open(browser, site, site.world.telegram_ids[0], width)
    await again.locator("h1", has_text="Du har redan svarat").wait_for()
    assert await again.locator(".options").count() == 0


async def test_the_answer_given_on_the_page_is_counted_in_the_closed_round(
    browser: Browser, weekly_site: Site
) -> None:
    """Eleven colleagues of twenty answer over the same endpoint, one on the page; at close,
    twelve answers are released and the page's answer is in every figure."""
    site = weekly_site
    page, _ = await _open(browser, site, site.world.telegram_ids[0], 390)
    for n in range(1, 8):
        await page.locator(".progress", has_text=f"Fråga {n} av 7").wait_for()
        await page.locator(".options button").last.click()  # the last option everywhere
    await page.get_by_role("button", name="Skicka").click()
    await page.locator("h1", has_text="Tack!").wait_for()
    _, opened = await site.open(site.world.telegram_ids[1])
    for user in site.world.telegram_ids[1:12]:
        answers = {item["key"]: 0 for item in opened["items"]}
        status, _ = await site.send(user, answers)
        assert status == 200
    result = close_round(site.world.db, site.world.keys, site.world.round.id)
    assert result.release.respondents == 12
    # Every colleague chose the first option, whose 0-100 index is 0 or 100 (by the item's
    # direction); only the page's answer, the last option everywhere, can move a mean off it.
    items = _item_figures(site)
    assert items, "the round's figures are published"
    for n, mean in items:
        assert n == 12
        assert mean not in ([0.0, 0.0], [100.0, 100.0]), mean  # a range where published so


def _item_figures(site: Site) -> list[tuple[int, list[float]]]:
    """(respondents, published mean) of every question's figure in the round."""
    from sqlmodel import select

    from survey.storage.models import RoundStatistic

    with site.world.db.session() as session:
        rows = session.exec(
            select(RoundStatistic).where(RoundStatistic.round_id == site.world.round.id)
        ).all()
    found: list[tuple[int, list[float]]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "lineage" in value and "mean" in value:
                found.append((value["n"], value["mean"]))
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for row in rows:
        walk(row.figures)
    return found


async def test_the_page_weighs_under_30_kb(weekly_site: Site) -> None:
    site = weekly_site
    total = 0
    for path in ("/checkin?lang=sv", "/static/checkin.js", "/static/checkin.css"):
        async with site.http.get(site.base + path) as response:
            total += len(await response.read())
    assert total < 30 * 1024, total
