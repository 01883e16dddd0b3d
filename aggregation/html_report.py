"""A self-contained HTML report: text, tables and charts embedded, nothing fetched from outside."""

from __future__ import annotations

import base64
import html
import math

from aggregation.charts import response_rate_chart, trend_chart
from aggregation.render import report_text
from aggregation.report import UnitReport, trend_rows
from survey.i18n import Texts


def report_html(report: UnitReport, language: str, trend_png: bytes | None = None) -> str:
    """The page; pass ``trend_png`` when the chart was drawn already (drawing it is the slow
    part)."""
    t = Texts(language)
    esc = html.escape
    body = "<br>\n".join(
        part for message in report_text(report, language) for part in message.split("\n")
    )
    charts = ""
    if report.rounds:
        trend = trend_png if trend_png is not None else trend_chart(report, language)
        for title, png in (
            (t._("Indices (0–100)"), trend),
            (t._("Response rate"), response_rate_chart(report, language)),
        ):
            data = base64.b64encode(png).decode()
            charts += (
                f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(title)}</figcaption></figure>\n"
            )
    table = trend_rows(report)
    rows = ""
    for row in table:
        label = report.construct_labels.get(row.construct, {}).get(language, row.construct)
        cells = [esc(label)] + [
            "–" if isinstance(v, float) and math.isnan(v) else t.number(v)
            for v in (
                row.index,
                row.change_previous,
                row.change_4_round_mean,
                row.parent,
                row.organisation,
            )
        ]
        rows += "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n"
    headers = [
        t._("Construct"),
        t._("Index"),
        t._("Since last round"),
        t._("Against 4-round mean"),
        report.parent_name or "–",
        report.org_name,
    ]
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<title>{esc(t._("Staff Pulse"))} – {esc(report.unit_name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; }} figcaption {{ color: #555; font-size: .9rem; }}
</style></head><body>
<p>{body}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{rows}</tbody></table>
{charts}
</body></html>
"""
