"""What every `pulse` command shares: settings, the database, keys, and readable errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError, OperationalError

from survey.crypto import KeyFileError, KeyRing
from survey.installation import key_ring
from survey.settings import SurveySettings
from survey.storage import Database, DatabaseUnavailableError

console = Console()
err = Console(stderr=True, soft_wrap=True)  # one logical line, wrapped by the terminal


#: Exit code of an operator's mistake (a wrong value, a missing database): one line, no
#: traceback. Other failures keep code 1.
OPERATOR_ERROR = 2


@contextmanager
def clear_errors() -> Iterator[None]:
    """Known failures become one readable line and exit code 2, never a traceback."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        name = f"PULSE_{field.upper()}" if field else "a setting"
        err.print(f"[red]Invalid value[/red] for {name}: {escape(first['msg'])}", highlight=False)
        raise typer.Exit(OPERATOR_ERROR) from exc
    except ArgumentError as exc:
        err.print(
            "[red]Error:[/red] PULSE_DATABASE_URL is not a database URL (e.g. "
            "postgresql+psycopg://user@host/dbname)",
            highlight=False,
        )
        raise typer.Exit(OPERATOR_ERROR) from exc
    except OperationalError as exc:
        message = str(exc.orig).lower()
        if "no such table" in message or "does not exist" in message:
            err.print(
                f"[red]Error:[/red] no Staff Pulse database here ({escape(str(Path.cwd()))}): "
                "run `pulse init` first, or set PULSE_DATA_DIR / PULSE_DATABASE_URL",
                highlight=False,
            )
        else:
            err.print(f"[red]Error:[/red] the database refused: {escape(str(exc.orig))}")
        raise typer.Exit(OPERATOR_ERROR) from exc
    except (DataError, IntegrityError) as exc:
        err.print(
            "[red]Error:[/red] the database refused a value (a number too large or a reference "
            "to something that does not exist)",
            highlight=False,
        )
        raise typer.Exit(OPERATOR_ERROR) from exc
    except OverflowError as exc:
        err.print("[red]Error:[/red] a number or duration is too large", highlight=False)
        raise typer.Exit(OPERATOR_ERROR) from exc
    except PermissionError as exc:
        err.print(
            f"[red]Error:[/red] not allowed to write {escape(str(exc.filename or ''))}: check "
            "the owner and permissions of the data directory (PULSE_DATA_DIR)",
            highlight=False,
        )
        raise typer.Exit(OPERATOR_ERROR) from exc
    except (DatabaseUnavailableError, KeyFileError, ValueError, LookupError, OSError) as exc:
        err.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(OPERATOR_ERROR) from exc


@dataclass
class Context:
    settings: SurveySettings
    db: Database
    keys: KeyRing


@contextmanager
def context() -> Iterator[Context]:
    with clear_errors():
        settings = SurveySettings()
        db = Database.from_settings(settings)
        try:
            yield Context(settings, db, key_ring(settings))
        finally:
            db.dispose()


def parse_instant(value: str | None) -> datetime:
    """An ISO time for --at; without a zone it is read in UTC. Default: now."""
    if value is None:
        return datetime.now(UTC)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: use ISO format, e.g. 2026-11-23T09:00+01:00") from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
