"""One scheduler among several bot processes: a PostgreSQL advisory lock, held on a connection
of its own for as long as the process leads. SQLite is single-process by design (embedded), so
there the process always leads."""

from __future__ import annotations

from sqlalchemy import Connection, text

from survey.storage.engine import Database

#: An arbitrary constant naming the scheduler lock ("SP" "SCHED" in ASCII, shortened).
SCHEDULER_LOCK_KEY = 0x5350_5343


class LeaderLock:
    def __init__(self, db: Database, key: int = SCHEDULER_LOCK_KEY) -> None:
        self._db = db
        self._key = key
        self._connection: Connection | None = None

    def try_lead(self) -> bool:
        """True if this process leads (now or already); never blocks."""
        if self._db.dialect != "postgresql":
            return True
        if self._connection is not None and not self._connection.closed:
            return True
        connection = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
        if got.scalar():
            self._connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._connection.close()
            self._connection = None
