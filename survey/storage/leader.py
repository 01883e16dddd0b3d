"""One scheduler among several bot processes: a PostgreSQL advisory lock, held on a connection
of its own for as long as the process leads. SQLite is single-process by design (embedded), so
there the process always leads.

Holding the connection object is no proof of holding the lock: the connection may have been
cut, or PostgreSQL restarted, and another process may lead by now. So leadership is re-checked
against the server (``holds``) immediately before every request the scheduler makes to
Telegram (bot.fencing), and a process that cannot prove it still leads stops sending until it
has won the lock again. Each win starts a new ``term``: the new leader then takes over what an
earlier one left unconfirmed (survey.claims.reopen_unconfirmed).
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from survey.storage.engine import Database

log = logging.getLogger(__name__)

#: An arbitrary constant naming the scheduler lock ("SP" "SCHED" in ASCII, shortened).
SCHEDULER_LOCK_KEY = 0x5350_5343

# pg_try_advisory_lock(bigint) shows in pg_locks as classid = high and objid = low 32 bits.
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND classid = :high AND objid = :low AND objsubid = 1"
)


class LeaderLock:
    def __init__(self, db: Database, key: int = SCHEDULER_LOCK_KEY) -> None:
        self._db = db
        self._key = key
        self._connection: Connection | None = None
        # The lock's connection is asked from several sends at once (worker threads).
        self._guard = threading.Lock()
        #: How many times this process has won the lead (0: never yet).
        self.term = 0

    def try_lead(self) -> bool:
        """True if this process leads (now, or still, as the server confirms); never blocks."""
        if self._db.dialect != "postgresql":
            self.term = self.term or 1
            return True
        if self._connection is not None and self.holds():
            return True
        try:
            connection = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            log.warning("cannot reach the database to lead: %s", type(exc).__name__)
            return False
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            if got.scalar():
                with self._guard:
                    self._connection = connection
                self.term += 1
                return True
        except SQLAlchemyError as exc:
            log.warning("cannot take the scheduler lock: %s", type(exc).__name__)
        connection.close()
        return False

    @property
    def fenced(self) -> bool:
        """Whether leadership can be lost at all (PostgreSQL); SQLite's one process leads."""
        return self._db.dialect == "postgresql"

    def holds(self) -> bool:
        """Whether the server still grants this process the lock, asked on the lock's own
        connection; a lost connection means leadership is lost."""
        if self._db.dialect != "postgresql":
            return True
        with self._guard:
            if self._connection is None:
                return False
            try:
                held = self._connection.execute(
                    _HELD, {"high": self._key >> 32, "low": self._key & 0xFFFF_FFFF}
                ).scalar()
            except SQLAlchemyError:
                held = 0
            if held:
                return True
            log.warning("scheduler lock lost; no more sends until it is won again")
            self._drop()
            return False

    def release(self) -> None:
        """Let go of the lock, whatever state the database is in (clean shutdown)."""
        with self._guard:
            if self._connection is None:
                return
            with contextlib.suppress(SQLAlchemyError):  # a lost connection has let go already
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._drop()

    def _drop(self) -> None:
        """Forget the lock's connection (the caller holds ``_guard``)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                connection.invalidate()
