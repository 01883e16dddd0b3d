"""`pulse schedules` and `pulse rounds`: when check-ins happen, and driving them by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from cli.common import command_group, console, context, counted, err, parse_instant
from cli.options import OptionError

#: How far --at may be from the clock for --apply: a few minutes of a slow shell, no more.
TIME_TRAVEL_LIMIT = timedelta(minutes=5)

schedules_app = command_group("Schedules: create, list, skip a date, pause, resume.")
rounds_app = command_group("Rounds: list, show what is due, run what is due.")


@schedules_app.command("create", short_help="Create a schedule for a unit sub-tree.")
def create(
    unit: Annotated[int, typer.Option(help="The unit; its whole sub-tree is included.")],
    sets: Annotated[str, typer.Option(help="Question set ids, comma-separated.")] = (
        "social-work-weekly"
    ),
    cadence: Annotated[str, typer.Option(help="weekly, biweekly or monthly.")] = "weekly",
    weekday: Annotated[str, typer.Option(help="mon..sun (or måndag..söndag).")] = "mon",
    at: Annotated[str, typer.Option("--time", help="Local time, HH:MM.")] = "09:00",
    timezone: Annotated[str | None, typer.Option(help="Default: PULSE_TIMEZONE.")] = None,
    open_for: Annotated[str, typer.Option("--open", help="How long a round stays open.")] = "72h",
    remind: Annotated[str, typer.Option(help="Reminder this long after opening.")] = "24h",
    skip: Annotated[list[str] | None, typer.Option(help="YYYY-MM-DD or a range A/B.")] = None,
    starts: Annotated[str | None, typer.Option(help="First date (default: today).")] = None,
) -> None:
    """Create a schedule for a unit sub-tree (refused if the same one exists, or if a check-in
    would ask more than PULSE_MAX_ITEMS_PER_CHECKIN questions)."""
    from cli.options import as_date, as_dates, as_time
    from survey.lifecycle import create_schedule
    from survey.schedules import WEEKDAYS, ScheduleSpec, parse_duration_hours, parse_weekday
    from survey.settings import known_timezone

    with context() as ctx:
        zone = known_timezone(timezone or ctx.settings.timezone)
        spec = ScheduleSpec(
            cadence=cadence,
            weekday=parse_weekday(weekday),
            local_time=as_time("--time", at),
            timezone=zone,
            open_hours=parse_duration_hours(open_for),
            remind_after_hours=parse_duration_hours(remind),
            skip=as_dates("--skip", skip or ()),
            starts_on=(
                as_date("--starts", starts) if starts else datetime.now(ZoneInfo(zone)).date()
            ),
        )
        schedule = create_schedule(
            ctx.db,
            unit_id=unit,
            question_sets=[s.strip() for s in sets.split(",")],
            spec=spec,
            max_items=ctx.settings.max_items_per_checkin,
        )
    console.print(
        f"Schedule {schedule.id}: unit {schedule.unit_id}, {schedule.cadence} on "
        f"{WEEKDAYS[schedule.weekday]} {schedule.local_time} {schedule.timezone}, open "
        f"{schedule.open_hours} h, reminder after {schedule.remind_after_hours} h",
        highlight=False,
    )


@schedules_app.command("list")
def list_all() -> None:
    """All schedules."""
    from survey.lifecycle import list_schedules
    from survey.schedules import WEEKDAYS

    with context() as ctx:
        schedules = list_schedules(ctx.db)
    if not schedules:
        console.print("No schedules yet: `pulse schedules create --unit ID`")
    for s in schedules:
        state = "active" if s.active else "paused"
        skips = f", skips {', '.join(s.skip)}" if s.skip else ""
        console.print(
            f"{s.id:>4}  unit {s.unit_id}  {'+'.join(s.question_sets)}  {s.cadence} "
            f"{WEEKDAYS[s.weekday]} {s.local_time} {s.timezone}  open {s.open_hours} h, "
            f"reminder {s.remind_after_hours} h  {state}{skips}",
            highlight=False,
        )


@schedules_app.command("skip", short_help="No round on a date or range (holidays).")
def skip_date(schedule_id: int, when: str) -> None:
    """No round on this date (or range A/B), e.g. a holiday or summer weeks."""
    from cli.options import as_dates
    from survey.lifecycle import update_schedule

    with context() as ctx:
        (when,) = as_dates("WHEN", [when])
        update_schedule(ctx.db, schedule_id, add_skip=when)
    console.print(f"Schedule {schedule_id} skips {when}")


@schedules_app.command("pause")
def pause(schedule_id: int) -> None:
    """Open no new rounds until resumed (open rounds run to their end)."""
    from survey.lifecycle import update_schedule

    with context() as ctx:
        update_schedule(ctx.db, schedule_id, active=False)
    console.print(f"Schedule {schedule_id} paused")


@schedules_app.command("resume")
def resume(schedule_id: int) -> None:
    """Open rounds again from the next scheduled time."""
    from survey.lifecycle import update_schedule

    with context() as ctx:
        update_schedule(ctx.db, schedule_id, active=True)
    console.print(f"Schedule {schedule_id} active")


@rounds_app.command("list", short_help="Rounds, their windows and who answered.")
def list_rounds() -> None:
    """Rounds with their window; respondents only as published for closed rounds (P6: nothing
    while open, and fewer than k is said as such). Times are in each schedule's timezone."""
    from sqlmodel import col, select

    from survey.storage.models import RoundStatistic, Schedule, SurveyRound

    with context() as ctx, ctx.db.session() as session:
        rounds = session.exec(select(SurveyRound).order_by(col(SurveyRound.opens_at))).all()
        top = {
            (row.round_id, row.unit_id): row.figures
            for row in session.exec(select(RoundStatistic)).all()
        }
        zones = {s.id: s.timezone for s in session.exec(select(Schedule)).all()}
        default_zone = ctx.settings.timezone
    if not rounds:
        console.print("No rounds yet.")
    for r in rounds:
        answered = "open"
        if r.state == "closed":
            figure = top.get((r.id or 0, r.unit_id))
            if figure is None:
                answered = "closed, statistics not computed (`pulse close-round ID --recompute`)"
            elif figure.get("shown"):
                at_least = "at least " if figure.get("respondents_at_least") else ""
                answered = f"{at_least}{figure['respondents']} answered of {figure['members']}"
            elif figure.get("reason") == "members":
                fewest = figure.get("min_members", r.min_group_size + 1)
                answered = f"not shown: fewer than {fewest} members"
            elif figure.get("reason") == "neighbours":
                answered = "not shown: its figures would let a smaller group be worked out"
            else:
                answered = f"fewer than {r.min_group_size} answered"
        zone = zones.get(r.schedule_id, default_zone) if r.schedule_id else default_zone
        console.print(
            f"{r.id:>4}  unit {r.unit_id}  #{r.sequence + 1}  {_local(r.opens_at, zone)} -> "
            f"{_local(r.closes_at, zone)} {zone}  {counted(len(r.items), 'item')}  "
            f"k={r.min_group_size}  {answered}",
            highlight=False,
        )


@rounds_app.command("tick", short_help="Show what is due now; --apply carries it out.")
def run_due(
    at: Annotated[str | None, typer.Option(help="Pretend it is this time (ISO).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Carry it out (default: only show).")] = (
        False
    ),
) -> None:
    """Show what is due now (open, remind, close); with --apply, open and close rounds.

    The bot does this by itself every minute; this is for operators and dry runs.
    """
    from aggregation.close import release_with_statistics
    from survey.lifecycle import due, list_schedules, tick

    with context() as ctx:
        now = parse_instant(at)
        if apply and abs(now - datetime.now(UTC)) > TIME_TRAVEL_LIMIT:
            # The running bot sends for rounds as it finds them: a round opened for next month
            # would be sent to everyone today, and a past close would report a round nobody
            # could answer. Showing what would be due at another time is safe; doing it is not.
            raise OptionError(
                f"--at: {at} is not now; --apply carries out only what is due now (without "
                "--at), and --at shows what would be due then"
            )
        plan = due(ctx.db, now)
        zones = {s.id: s.timezone for s in list_schedules(ctx.db)}
        for item in plan.open:
            zone = zones.get(item.schedule_id, ctx.settings.timezone)
            console.print(
                f"open: schedule {item.schedule_id} at {_local(item.opens_at, zone)}, closes "
                f"{_local(item.closes_at, zone)} {zone}",
                highlight=False,
            )
        for reminding in plan.remind:
            console.print(f"remind: round {reminding.round_id} (the bot sends reminders)")
        for closing in plan.close:
            console.print(f"close: round {closing.round_id}")
        if plan.empty:
            console.print("Nothing is due.")
            return
        if not apply:
            console.print("Dry run: add --apply to carry it out.")
            return
        report = tick(ctx.db, ctx.keys, ctx.settings, now, close=release_with_statistics)
    for round_id in report.opened:
        console.print(f"[green]opened[/green] round {round_id}")
    for summary in report.closed:
        console.print(
            f"[green]closed[/green] round {summary.round_id}: "
            f"{counted(summary.respondents, 'answer')} released"
        )
    for failure in report.failed:
        console.print(f"[red]failed[/red]: {failure}")
    for round_id in report.scrub_pending:
        console.print(
            f"[red]not clean yet[/red]: round {round_id}'s destroyed rows are not verified gone"
        )
    if report.failed or report.scrub_pending:
        raise typer.Exit(1)


@rounds_app.command("regroup", short_help="Store old rounds' answers by published group.")
def regroup(
    apply: Annotated[
        bool, typer.Option("--apply", help="Change the data (default: only show).")
    ] = False,
) -> None:
    """Move answers of rounds closed before version 0.2 into the groups they were published
    under, destroying those no figure covers (P1). Needs the report private key."""
    from survey.submissions import regroup_closed_rounds

    with context() as ctx:
        done = regroup_closed_rounds(ctx.db, ctx.keys, apply=apply)
    if not done:
        console.print("Nothing to regroup: every closed round stores its answers by group.")
        return
    # Only round ids: how many answers a round had outside its published groups would be a
    # count for fewer than k people (P6).
    rounds = ", ".join(str(item.round_id) for item in done)
    if apply:
        console.print(f"Rounds {rounds}: answers moved into their published groups.")
    else:
        console.print(f"Rounds {rounds} would have their answers moved into published groups.")
    if not apply:
        console.print("Dry run: nothing changed. Add --apply to do it.")


@rounds_app.command("scrub", short_help="Verify closed rounds left no trace of who answered.")
def scrub() -> None:
    """Verify again that closed rounds leave nothing of who answered (P2); exit 1 if not yet."""
    from survey.submissions import retry_scrubs

    with context() as ctx:
        pending = retry_scrubs(ctx.db)
    if pending:
        err.print(
            f"[red]Still not clean:[/red] rounds {', '.join(map(str, pending))}: another reader "
            "(a long report, a file backup, a replication slot) holds an old snapshot.",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print("Every closed round is scrubbed.")


def _local(instant: datetime, zone: str) -> str:
    """A stored UTC instant as the schedule's people read it (09:00 Stockholm, not 08:00 UTC)."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
