"""What every `pulse` command shares: settings, the database, keys, and readable errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import typer
from pydantic import ValidationError
from rich.console import Console

from survey.crypto import KeyFileError, KeyRing
from survey.installation import key_ring
from survey.settings import SurveySettings
from survey.storage import Database, DatabaseUnavailableError

console = Console()
err = Console(stderr=True)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Known failures become readable lines and exit code 1, never a traceback."""
    try:
        yield
    except ValidationError as exc:
        err.print("[red]Invalid value:[/red]")
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            err.print(f"  {field}: {error['msg']}" if field else f"  {error['msg']}")
        raise typer.Exit(1) from exc
    except (DatabaseUnavailableError, KeyFileError, ValueError, LookupError) as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


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
