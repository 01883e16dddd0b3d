"""`pulse demo` runs the real product end to end (small here; the full run is the README's)."""

from __future__ import annotations

import re
from pathlib import Path

from cli.simulation import run_demo


async def test_a_short_demo_produces_reports_from_real_button_presses(tmp_path: Path) -> None:
    steps: list[str] = []
    result = await run_demo(
        tmp_path / "demo", weeks=6, workers=30, seed=3, on_step=lambda text, _: steps.append(text)
    )
    assert result.answered > 40
    assert result.answered_in_telegram > 15
    # Every check-in of the last week went through the buttons (5+ items and Send each).
    assert result.presses >= result.answered_in_telegram * 6
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
