"""`pulse`: set up, inspect and operate a Staff Pulse installation.

Each command is a thin shell over a survey/, aggregation/ or bot/ function: it parses options,
calls one function, and turns an operator's mistake into one line and exit code 2. The layers
below are imported inside the commands, so `pulse --help` answers at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli import actions, invites, questions, reports, schedules, units
from cli import bot as bot_cli
from cli import demo as demo_cli
from cli.common import OPERATOR_ERROR, clear_errors, command_group, console, context, err

app = command_group("Staff Pulse: anonymous pulse check-ins for social-work units.", top=True)
keys_app = command_group("Report keys: rotation and listing.")


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"Staff Pulse {version('staff-pulse')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Staff Pulse: anonymous pulse check-ins for social-work units."""
    # Everything pulse creates (database, WAL, keys, logs, backups, exports) is the service
    # user's alone, whatever the shell or service manager set: files 0600, directories 0700.
    os.umask(0o077)


def init() -> None:
    """Create the keys (never overwriting existing ones) and migrate the database to the newest."""
    from survey.installation import initialise

    with context(create=True) as ctx:
        result = initialise(ctx.settings, ctx.db)
        settings = ctx.settings
    if result.keys_created:
        console.print(f"[green]Created keys[/green] in {settings.resolved_keys_dir} (mode 0600).")
    else:
        console.print(f"Keys already exist in {settings.resolved_keys_dir}; left unchanged.")
    console.print(f"Active report key: {result.report_key_id}")
    console.print(f"Database schema at revision {result.revision}.")
    console.print(
        "[yellow]For the strongest protection[/yellow], move the report private key to another "
        "machine and close rounds there: the bot seals answers with the public key alone "
        "(PULSE_REPORT_PRIVATE_KEYS_DIR, docs/operations.md)."
    )


def migrate() -> None:
    """Apply pending database migrations (Alembic) up to the newest schema."""
    from survey.storage import upgrade_to_head

    with context() as ctx:
        revision = upgrade_to_head(ctx.db.engine)
    console.print(f"Database schema at revision {revision}.")


def status_command(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when something needs attention (for monitoring): an old schema, no "
            "active report key, a closed round not verified clean, or files others can read.",
        ),
    ] = False,
) -> None:
    """Show the database, schema revision, keys and overall counts."""
    from rich.table import Table

    from survey.installation import status

    with context() as ctx:
        current = status(ctx.settings, ctx.db)
    table = Table(title="Staff Pulse", show_header=False)
    table.add_row("Database", current.database)
    schema = current.revision or "empty (run `pulse init`)"
    if current.revision and not current.schema_current:
        schema += f" (newest is {current.head}: run `pulse migrate`)"
    table.add_row("Schema", schema)
    table.add_row("Active report key", current.active_report_key or "none (run `pulse init`)")
    table.add_row(
        "Report keys",
        f"{len(current.report_keys)} public, {len(current.private_keys_here)} private on this host",
    )
    table.add_row("Units", str(current.units))
    table.add_row("Members", str(current.members))
    table.add_row("Rounds", f"{current.open_rounds} open, {current.closed_rounds} closed")
    if current.scrub_pending:
        table.add_row(
            "[red]Needs attention[/red]",
            f"{current.scrub_pending} closed round(s) whose destroyed rows are not verified gone "
            "(a long-running reader or backup holds an old snapshot); the bot retries every "
            "tick, `pulse rounds scrub` retries now",
        )
    if current.loose:
        table.add_row(
            "[red]Needs attention[/red]",
            "others than the service user may read: "
            + "; ".join(escape(place) for place in current.loose)
            + " (chmod 600 for files, 700 for directories)",
        )
    console.print(table)
    attention = (
        not current.schema_current
        or current.active_report_key is None
        or current.scrub_pending
        or current.loose
    )
    if check and attention:
        raise typer.Exit(1)


def backup_command(
    target: Annotated[Path, typer.Argument(help="The new backup file (must not exist yet).")],
) -> None:
    """A consistent copy of the database, without any open round's pool (P2)."""
    from survey.backup import BackupError, backup

    with context() as ctx:
        try:
            written = backup(ctx.db, target)
        except BackupError as exc:
            err.print(f"[red]Error:[/red] {exc}", highlight=False)
            raise typer.Exit(OPERATOR_ERROR) from exc
    console.print(
        f"Backup written to {escape(str(written))} (answers to open rounds are not in it).",
        highlight=False,
    )


@keys_app.command("rotate", short_help="New report key for rounds opened from now on.")
def keys_rotate() -> None:
    """Make a new report key pair for rounds opened from now on; older rounds keep their key."""
    from survey.installation import rotate_keys
    from survey.settings import SurveySettings

    with clear_errors():
        key_id = rotate_keys(SurveySettings())
    console.print(f"New active report key: {key_id}. Rounds already open keep their own key.")


@keys_app.command("list")
def keys_list() -> None:
    """List report keys and whether their private half is on this host."""
    from survey.installation import status

    with context() as ctx:
        current = status(ctx.settings, ctx.db)
    for key_id in current.report_keys:
        marks = []
        if key_id == current.active_report_key:
            marks.append("active")
        marks.append("private key here" if key_id in current.private_keys_here else "public only")
        console.print(f"{key_id}  ({', '.join(marks)})")


# In the order an operator meets them: set up, organise, run, read, upkeep.
app.command("init", short_help="Create the keys and the database (safe to repeat).")(init)
app.command("status")(status_command)
app.command("migrate", short_help="Bring the database schema up to date.")(migrate)
app.command("backup", short_help="A consistent copy of the database.")(backup_command)
app.add_typer(keys_app, name="keys")
app.add_typer(units.app, name="units")
app.add_typer(questions.app, name="questions")
app.add_typer(invites.app, name="invites")
app.add_typer(schedules.schedules_app, name="schedules")
app.add_typer(schedules.rounds_app, name="rounds")
app.command("run", short_help="Run the Telegram bot until stopped.")(bot_cli.run)
app.command("report", short_help="A unit's results from closed rounds.")(reports.report)
app.add_typer(actions.app, name="actions")
app.command("close-round", short_help="Close a round now, or recompute its statistics.")(
    reports.close_round_command
)
app.command("purge", short_help="Delete raw answers past the retention period.")(reports.purge)
app.command("access-log", short_help="Who of the staff opened which unit's page.")(
    reports.access_log_command
)
app.command("demo", short_help="The whole product locally, with no Telegram account.")(
    demo_cli.demo
)
