"""What every `pulse` command shares: settings, the database, keys, and readable errors.

Imports of the storage and crypto layers wait until a command runs: `pulse --help` and the
commands that need no database stay quick (bench/bench_newcomer.py measures it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

if TYPE_CHECKING:
    from survey.crypto import KeyRing
    from survey.settings import SurveySettings
    from survey.storage import Database


#: `pulse --help` lists commands in the order an operator meets them: try it, set it up,
#: configure, run, look at results, then housekeeping.
OPERATOR_ORDER = (
    "demo",
    "init",
    "status",
    "units",
    "questions",
    "schedules",
    "invites",
    "run",
    "rounds",
    "report",
    "actions",
    "access-log",
    "close-round",
    "purge",
    "backup",
    "keys",
    "migrate",
)


class _OperatorOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:  # typer's own (vendored) click Context
        names = super().list_commands(ctx)
        rank = {name: position for position, name in enumerate(OPERATOR_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


def command_group(help: str, *, top: bool = False) -> typer.Typer:
    """A `pulse` command group. Help is plain click text: typer's rich help costs more start-up
    time than the rest of `pulse --help` together. Tracebacks stay plain, and never print local
    variables, which may hold a key or a token. The top group lists its commands in
    ``OPERATOR_ORDER``."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        cls=_OperatorOrder if top else TyperGroup,
    )


console = Console()
err = Console(stderr=True, soft_wrap=True)  # one logical line, wrapped by the terminal


#: Exit code of an operator's mistake (a wrong value, a missing database): one line, no
#: traceback. Other failures keep code 1.
OPERATOR_ERROR = 2


@contextmanager
def clear_errors() -> Iterator[None]:
    """Known failures become one readable line and exit code 2, never a traceback."""
    try:
        _configure_logging()
        yield
    except Exception as exc:
        line = operator_error(exc)
        if line is None:
            raise
        err.print(line, highlight=False)
        raise typer.Exit(OPERATOR_ERROR) from exc


def operator_error(exc: Exception) -> str | None:
    """The one line (rich markup, user text escaped) for an operator's mistake; None for
    anything else, which stays a real error."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DataError, IntegrityError, OperationalError

    from survey.crypto import KeyFileError
    from survey.storage import DatabaseUnavailableError

    error = "[red]Error:[/red] "
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = escape(str(first["msg"]).removeprefix("Value error, "))
        if exc.title.endswith("Settings"):
            name = f"PULSE_{field.upper()}" if field else "a setting"
            return f"[red]Invalid value[/red] for {name}: {message}"
        # Not a setting: a value given on the command line, checked by the survey's rules.
        return f"{error}{message}"
    if isinstance(exc, ArgumentError):
        return (
            f"{error}PULSE_DATABASE_URL is not a database URL (e.g. "
            "postgresql+psycopg://user@host/dbname)"
        )
    if isinstance(exc, OperationalError):
        message = str(exc.orig).lower()
        if "no such table" in message or "does not exist" in message:
            return (
                f"{error}no Staff Pulse database here ({escape(str(Path.cwd()))}): run "
                "`pulse init` first, or set PULSE_DATA_DIR / PULSE_DATABASE_URL"
            )
        return f"{error}the database refused: {escape(str(exc.orig))}"
    if isinstance(exc, DataError | IntegrityError):
        return (
            f"{error}the database refused a value (a number too large or a reference to "
            "something that does not exist)"
        )
    if isinstance(exc, OverflowError):
        return f"{error}a number or duration is too large"
    if isinstance(exc, PermissionError):
        return (
            f"{error}not allowed to write {escape(str(exc.filename or ''))}: check the owner "
            "and permissions of the data directory (PULSE_DATA_DIR)"
        )
    known = (DatabaseUnavailableError, KeyFileError, ValueError, LookupError, OSError)
    if isinstance(exc, known):
        return f"{error}{escape(str(exc))}"
    return None


@dataclass
class Context:
    settings: SurveySettings
    db: Database
    keys: KeyRing


def _configure_logging() -> None:
    """Logging as the settings say, set up once per process (commands call it through
    `clear_errors`, so `--help` never loads the settings)."""
    from survey.logs import configure_logging
    from survey.settings import SurveySettings

    settings = SurveySettings()
    configure_logging(
        settings.log_level,
        settings.log_format,
        settings.log_file,
        settings.log_max_bytes,
        settings.log_backups,
    )


@contextmanager
def context(create: bool = False) -> Iterator[Context]:
    """Settings, database and keys for one command. Only ``create`` (`pulse init`) may bring a
    new SQLite file into being: any other command run in the wrong directory says so, instead
    of leaving an empty database and data directory behind."""
    from survey.installation import key_ring
    from survey.settings import SurveySettings
    from survey.storage import Database

    with clear_errors():
        settings = SurveySettings()
        if not create:
            require_existing_sqlite(settings.resolved_database_url)
        db = Database.from_settings(settings)
        try:
            yield Context(settings, db, key_ring(settings))
        finally:
            db.dispose()


def require_existing_sqlite(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)  # checked above: a file name
    if not path.exists():
        raise NoDatabaseError(
            f"no Staff Pulse database at {path.resolve()}: run `pulse init` first, or set "
            "PULSE_DATA_DIR / PULSE_DATABASE_URL to where it is"
        )


class NoDatabaseError(LookupError):
    """A command that needs the database was run where there is none."""


def counted(number: int, noun: str) -> str:
    """ "1 item", "2 items": the CLI speaks English, whose nouns here take an -s."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def parse_instant(value: str | None) -> datetime:
    """An ISO time for --at; without a zone it is read in UTC. Default: now."""
    from cli.options import as_instant

    return as_instant("--at", value)
