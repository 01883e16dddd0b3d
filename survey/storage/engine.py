"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from survey.settings import SurveySettings


class _DropResultRows(logging.Filter):
    """SQLAlchemy logs every fetched row at DEBUG; rows hold pseudonyms and sealed chat ids (P4).

    ``hide_parameters`` covers what goes in, this covers what comes out, whatever level an
    operator turns SQL logging up to.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_ROW_FILTER = _DropResultRows()
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_ROW_FILTER)


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached; nothing was written."""


def make_engine(url: str, settings: SurveySettings | None = None, **kwargs: Any) -> Engine:
    """Create an engine with the privacy and durability settings every process must share.

    ``hide_parameters`` keeps answers, pseudonyms and chat ids out of SQL error messages and logs
    (P4). On SQLite: WAL for concurrent readers, foreign keys on, and ``secure_delete`` so deleted
    pool rows are overwritten with zeros rather than left readable in free pages (P2).
    """
    settings = settings or SurveySettings()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, **kwargs)
        _configure_sqlite(engine, settings)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine, settings: SurveySettings) -> None:
    synchronous = settings.sqlite_synchronous
    busy_timeout = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin, so BEGIN is explicit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two concurrent submits queue on busy_timeout
        # instead of one failing late with "database is locked" on upgrade from a read lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its sessions; the single door through which survey code reaches storage."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: SurveySettings) -> Database:
        return cls(make_engine(settings.resolved_database_url, settings))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session whose transaction commits on success and rolls back on any error."""
        with (
            _unavailable_as_clear_error(),
            Session(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot paths where ORM bookkeeping costs more
        than the work itself (accepting a check-in, releasing a round)."""
        with _unavailable_as_clear_error(), self.engine.begin() as connection:
            yield connection

    def scrub_deleted(self, tables: tuple[str, ...]) -> None:
        """Leave no readable remnant of rows just deleted from ``tables`` (P2).

        SQLite overwrites deleted content itself (``secure_delete``); the checkpoint then moves the
        zeroed pages into the database file and truncates the WAL that still held the old ones.
        PostgreSQL keeps dead tuples until a vacuum; VACUUM FULL rewrites the (small) tables.
        Both must run outside a transaction, hence the driver-level connection.
        """
        if self.dialect == "sqlite":
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        elif self.dialect == "postgresql":
            with self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                for table in tables:
                    connection.execute(text(f'VACUUM FULL "{table}"'))

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseUnavailableError(f"cannot reach the database: {exc.orig}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _unavailable_as_clear_error() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if _is_unavailable(exc):
            raise DatabaseUnavailableError(
                "the database is not reachable or busy right now; nothing was saved, try again"
            ) from exc
        raise


def _is_unavailable(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return bool(exc.connection_invalidated) or any(
        word in message for word in ("connect", "locked", "busy", "terminat", "shutdown")
    )
