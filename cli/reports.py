"""`pulse report`, `pulse close-round`, `pulse purge`: results for people, upkeep for operators."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import OPERATOR_ERROR, console, context, counted, err, parse_instant


class Format(StrEnum):
    TEXT = "text"
    HTML = "html"
    PNG = "png"
    CSV = "csv"
    XLSX = "xlsx"


def report(
    unit: Annotated[int, typer.Option(help="Unit id (see `pulse units list`).")],
    rounds: Annotated[int, typer.Option(help="How many closed rounds to include.")] = 12,
    format: Annotated[Format, typer.Option(help="text, html, png, csv or xlsx.")] = Format.TEXT,
    out: Annotated[Path | None, typer.Option(help="Write here (needed except for text).")] = None,
    language: Annotated[str | None, typer.Option(help="sv or en (default: setting).")] = None,
) -> None:
    """A unit's results from closed rounds, with disclosure control (figures for fewer than k
    answers are never shown) and an audit before anything is written."""
    from aggregation.charts import trend_chart, units_heatmap
    from aggregation.exports import actions_csv, report_csv, report_xlsx
    from aggregation.heatmap import unit_heatmap_data
    from aggregation.html_report import report_html
    from aggregation.report import build_report
    from bot.messages import report_text

    if out is None and format not in (Format.TEXT, Format.CSV):
        err.print(f"[red]Error:[/red] --out is needed for {format.value}", highlight=False)
        raise typer.Exit(OPERATOR_ERROR)
    with context() as ctx:
        lang = language or ctx.settings.language
        built = build_report(ctx.db, unit, rounds, change_spread=ctx.settings.change_spread)
        if not built.rounds:
            # Not a mistake, but nothing to show: a header or an empty chart would look like
            # a report. One line, exit code 1, and no file.
            err.print(
                f"{escape(built.unit_name)} has no closed round yet: results appear when a "
                "round closes (`pulse rounds list`).",
                highlight=False,
            )
            raise typer.Exit(1)
        if format == Format.TEXT:
            content: bytes = "\n\n".join(report_text(built, lang)).encode()
        elif format == Format.HTML:
            content = report_html(
                built, lang, heatmap_png=units_heatmap(ctx.db, built, lang)
            ).encode()
        elif format == Format.CSV:
            content = report_csv(built, lang)
            if out is not None and built.actions:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.with_name(out.stem + "-actions.csv").write_bytes(actions_csv(built, lang))
        elif format == Format.XLSX:
            content = report_xlsx(built, lang, unit_heatmap_data(ctx.db, built))
        else:
            content = trend_chart(built, lang)
            heat = units_heatmap(ctx.db, built, lang) if out is not None else None
            if out is not None and heat is not None:
                out.with_name(out.stem + "-units.png").write_bytes(heat)
    if out is None:
        typer.echo(content.decode())
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    console.print(f"Wrote {out}")


def close_round_command(
    round_id: int,
    recompute: Annotated[bool, typer.Option(help="Recompute statistics of a closed round.")] = (
        False
    ),
) -> None:
    """Close a round now (release its answers, compute its statistics), or recompute them."""
    from aggregation.close import close_round, compute_statistics

    scrubbed = True
    with context() as ctx:
        if recompute:
            shown, hidden = compute_statistics(ctx.db, ctx.keys, round_id)
        else:
            result = close_round(ctx.db, ctx.keys, round_id)
            shown, hidden = result.units_shown, result.units_hidden
            scrubbed = result.release.scrubbed
    console.print(
        f"Round {round_id}: statistics for {shown} units shown, {hidden} hidden "
        "(too few members or answers)"
    )
    if not scrubbed:
        err.print(
            f"[red]Not clean yet:[/red] round {round_id}'s destroyed rows are not verified gone "
            "(another reader holds an old snapshot). Stop it, then run `pulse rounds scrub`.",
            highlight=False,
        )
        raise typer.Exit(1)


def purge(
    apply: Annotated[bool, typer.Option("--apply", help="Delete (default: only show).")] = False,
    at: Annotated[str | None, typer.Option(help="Pretend it is this time (ISO).")] = None,
) -> None:
    """Delete raw sealed answers past PULSE_RESPONSE_RETENTION_DAYS (statistics stay)."""
    from survey.retention import purge_responses

    with context() as ctx:
        plans = purge_responses(
            ctx.db,
            retention_days=ctx.settings.response_retention_days,
            now=parse_instant(at),
            apply=apply,
        )
    if not plans:
        console.print("Nothing is past the retention period.")
        return
    for plan in plans:
        console.print(
            f"round {plan.round_id} (closed {plan.closed_at:%Y-%m-%d}): "
            f"{counted(plan.responses, 'answer')}"
        )
    console.print("Purged." if apply else "Dry run: add --apply to delete them.")


def access_log_command(
    unit: Annotated[
        int | None, typer.Option(help="Only this unit and its sub-units (unit id).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days back.")] = 90,
) -> None:
    """Who of the staff opened which unit's page in the dashboard, and when (kept 90 days):
    so that a unit can ask who looked."""
    from datetime import UTC, datetime, timedelta

    from survey.staff_access import access_log

    with context() as ctx:
        since = datetime.now(UTC) - timedelta(days=days)
        rows = access_log(ctx.db, ctx.keys, since, unit)
    if not rows:
        console.print(f"Nobody opened a unit's page in the last {days} days.")
        return
    for row in rows:
        console.print(
            f"{row.at:%Y-%m-%d %H:%M} UTC · {row.unit} · {row.role.value} · {row.name}",
            highlight=False,
            markup=False,
        )
