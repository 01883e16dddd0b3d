"""The HTML report as a person opens it: a real headless Chromium at phone and desktop width.

The page must fit the screen (no sideways scrolling of the page itself; wide charts scroll inside
their own frame) and every image must load (they are embedded, nothing is fetched). Headless
Chromium will not make a window narrower than 500 px, so the page is laid out in a frame of the
phone's width; a script in the outer page measures it and writes its verdict into the title,
which ``--dump-dom`` returns.
"""

from __future__ import annotations

import html as html_module
import json
import re
import subprocess
from pathlib import Path

from aggregation.charts import units_heatmap
from aggregation.html_report import report_html
from aggregation.report import build_report
from tests.conftest import chromium_path
from tests.test_aggregation import _run_week
from tests.test_aggregation import org as org  # the fixture, shared

HARNESS = """<!doctype html><html><head><title>waiting</title></head><body style="margin:0">
<iframe id="page" style="border:0;width:{width}px;height:900px" srcdoc="{page}"></iframe>
<script>
document.getElementById("page").addEventListener("load", (event) => {{
  const inner = event.target.contentWindow;
  const root = inner.document.documentElement;
  const images = [...inner.document.images];
  document.title = "PROBE" + JSON.stringify({{
    overflow: root.scrollWidth > inner.innerWidth,
    width: root.scrollWidth,
    viewport: inner.innerWidth,
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
  }});
}});
</script></body></html>"""


def _measure(browser: str, page: Path, width: int, profile: Path) -> dict[str, object]:
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            f"--window-size={max(width + 40, 600)},1000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    found = re.search(r"<title>PROBE(.*?)</title>", result.stdout)
    assert found, result.stderr[-2000:]
    return dict(json.loads(found.group(1).replace("&quot;", '"')))


def test_the_report_fits_a_phone_and_a_desktop(db, keys, settings, org, tmp_path: Path) -> None:
    browser = chromium_path()
    root = org[0]
    for week, stress in enumerate((3, 4, 5)):
        _run_week(db, keys, settings, org, week, stress=stress)
    report = build_report(db, root.id)
    html = report_html(report, "sv", heatmap_png=units_heatmap(db, report, "sv"))
    for width in (390, 1280):
        page = tmp_path / f"at-{width}.html"
        page.write_text(
            HARNESS.format(width=width, page=html_module.escape(html, quote=True)),
            encoding="utf-8",
        )
        measured = _measure(browser, page, width, tmp_path / f"profile-{width}")
        assert measured["viewport"] == width, measured
        assert measured["overflow"] is False, (width, measured)
        assert measured["images"] == 3, measured  # sub-units, trends, response rate
        assert measured["broken"] == 0, measured
    # The probe can see what it looks for: a page with something too wide does overflow.
    wide = html.replace("</body>", '<div style="width:800px">x</div></body>')
    page = tmp_path / "too-wide.html"
    page.write_text(HARNESS.format(width=390, page=html_module.escape(wide, quote=True)))
    assert _measure(browser, page, 390, tmp_path / "profile-wide")["overflow"] is True


def test_user_text_is_escaped_in_the_page(db, keys, settings, org) -> None:
    """A unit named like markup shows as text: the template escapes everything it is given."""
    from survey.enrolment import rename_unit

    root = org[0]
    _run_week(db, keys, settings, org, 0, stress=4)
    rename_unit(db, root.id, '<img src=x onerror="alert(1)">')
    html = report_html(build_report(db, root.id), "en")
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
