"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScrubResult:
    """Whether deleted rows are verifiably gone; ``detail`` says what held them if not."""

    clean: bool
    detail: str


#: Anything on the server that can still see rows deleted a moment ago: another session with a
#: snapshot (backend_xmin; autovacuum's are ignored by vacuums anyway), a replication slot, a
#: prepared transaction. Our own session has none.
_OLD_SNAPSHOTS = """
SELECT
  (SELECT count(*) FROM pg_stat_activity
     WHERE pid <> pg_backend_pid() AND datname = current_database()
       AND backend_xmin IS NOT NULL
       AND backend_type NOT IN ('autovacuum worker', 'autovacuum launcher'))
  + (SELECT count(*) FROM pg_replication_slots
       WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL)
  + (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database())
"""


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

    def scrub_deleted(
        self, tables: tuple[str, ...], *, attempts: int = 5, pause: float = 0.2
    ) -> ScrubResult:
        """Leave no readable remnant of rows just deleted from ``tables`` (P2), and say whether
        that could be verified.

        SQLite overwrites deleted content itself (``secure_delete``); the checkpoint then moves the
        zeroed pages into the database file and truncates the WAL that still held the old ones.
        A reader holding an older snapshot (a long report, a file backup, a replication tool)
        makes the checkpoint return "busy" and leaves old frames in the WAL: that is retried,
        then reported, never taken for clean. PostgreSQL keeps dead tuples while any snapshot,
        replication slot or prepared transaction older than the deletion exists; VACUUM FULL
        rewrites the (small) tables once none is left. Both run outside a transaction.
        """
        detail = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(pause * 2 ** (attempt - 1))
            if self.dialect == "sqlite":
                detail = self._checkpoint()
            elif self.dialect == "postgresql":
                detail = self._vacuum(tables)
            if not detail:
                return ScrubResult(True, "")
        log.error("deleted rows could not be scrubbed yet: %s", detail)
        return ScrubResult(False, detail)

    def _checkpoint(self) -> str:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            # A reader's snapshot does not go away by waiting for the lock: fail fast, and let
            # the retries (and later ticks) space out the attempts instead.
            (usual,) = cursor.execute("PRAGMA busy_timeout").fetchone()
            cursor.execute("PRAGMA busy_timeout = 200")
            try:
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                cursor.execute(f"PRAGMA busy_timeout = {int(usual)}")
        finally:
            raw.close()
        database = self.engine.url.database or ""
        wal = Path(f"{database}-wal")
        if busy or (wal.exists() and wal.stat().st_size > 0):
            return "another connection holds an older snapshot of the SQLite database"
        return ""

    def _vacuum(self, tables: tuple[str, ...]) -> str:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            horizon = connection.execute(text(_OLD_SNAPSHOTS)).scalar_one()
            if horizon:
                return (
                    f"{horizon} open snapshot(s), replication slot(s) or prepared transaction(s) "
                    "keep deleted rows of PostgreSQL alive"
                )
            for table in tables:
                connection.execute(text(f'VACUUM FULL "{table}"'))
        return ""

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
