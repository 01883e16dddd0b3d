"""`pulse demo` runs the real product end to end (small here; the full run is the README's)."""

from __future__ import annotations

import re
from pathlib import Path

from cli.simulation import run_demo


async def test_a_short_demo_produces_reports_from_the_page_and_real_button_presses(
    tmp_path: Path,
) -> None:
    steps: list[str] = []
    result = await run_demo(
        tmp_path / "demo", weeks=6, workers=30, seed=3, on_step=lambda text, _: steps.append(text)
    )
    assert result.answered > 40
    assert result.answered_in_telegram > 15
    # Most of the last week answered on the check-in page (the page, open, send each); those
    # who chose the chat pressed through the buttons (5+ items and Send each).
    in_chat = result.answered_in_telegram - result.answered_on_page
    assert 0 < in_chat < result.answered_on_page
    assert result.page_requests == result.answered_on_page * 3
    assert result.presses >= in_chat * 6
    assert result.database.exists()
    names = {path.name for path in result.files}
    assert "report-barnutredning-norr.html" in names
    assert "units-latest-round.png" in names
    page = (tmp_path / "demo" / "report-socialforvaltningen.html").read_text()
    assert "data:image/png;base64," in page
    summary = "\n".join(result.summary)
    assert "Barnutredning Norr" in summary
    assert "rapporter i Telegram" in summary
    # The loop, closed in Telegram: the action, its follow-up answer, the workers' results.
    assert "Åtgärd i Familjehem: En mentor" in summary
    assert "Uppföljningsfråga (v." in summary
    shown = re.search(r"resultatsammanfattningar i Telegram; (\d+) av dem visade", summary)
    assert shown is not None
    assert int(shown.group(1)) >= 1
    assert any("reminder" in step for step in steps)


def _published(database: Path) -> dict[tuple[int, str], str]:
    """Every figure a demo's rounds published, by round and unit name."""
    import sqlite3

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    rows = connection.execute(
        "SELECT s.round_id, u.name, s.figures "
        "FROM round_statistic s JOIN unit u ON u.id = s.unit_id"
    ).fetchall()
    connection.close()
    return {(round_id, name): figures for round_id, name, figures in rows}


async def test_the_same_seed_gives_the_same_demo(tmp_path: Path) -> None:
    """Every figure and every count, twice over (timings aside): the answers of people pressing
    at once and the answers a group's cap leaves out both come from the seed."""
    runs = []
    for name in ("first", "second"):
        result = await run_demo(
            tmp_path / name, weeks=4, workers=40, seed=11, on_step=lambda text, _: None
        )
        runs.append((result, _published(result.database)))
    (first, first_figures), (second, second_figures) = runs
    assert first_figures
    assert first_figures == second_figures
    assert (
        first.answered,
        first.answered_in_telegram,
        first.answered_on_page,
        first.presses,
    ) == (second.answered, second.answered_in_telegram, second.answered_on_page, second.presses)
    assert first.summary == second.summary
    other = await run_demo(
        tmp_path / "other", weeks=4, workers=40, seed=12, on_step=lambda *_: None
    )
    assert _published(other.database) != first_figures  # the seed is what decides


async def test_serving_after_the_demo_opens_this_week_with_a_link_that_answers_it(
    tmp_path: Path,
) -> None:
    """`pulse demo --serve`: the page stays served; the printed link opens this week's
    check-in for a demo worker, as Telegram would open it."""
    import aiohttp

    seen: dict[str, object] = {}

    async def serve(result) -> None:
        link = result.try_it
        assert link is not None
        address, fragment = link.split("#", 1)
        from urllib.parse import parse_qs

        init_data = parse_qs(fragment)["tgWebAppData"][0]
        base = address.split("/checkin", 1)[0]
        round_id = int(parse_qs(address.split("?", 1)[1])["round"][0])
        async with aiohttp.ClientSession() as http:
            async with http.get(address) as page:
                seen["page"] = page.status
            body = {"init_data": init_data, "round": round_id}
            async with http.post(base + "/checkin/open", json=body) as opened:
                seen["opened"] = (await opened.json())["state"]

    await run_demo(
        tmp_path / "demo", weeks=3, workers=24, seed=5, on_step=lambda *_: None, serve=serve
    )
    assert seen == {"page": 200, "opened": "open"}
