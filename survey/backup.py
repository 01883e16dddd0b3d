"""`pulse backup`: a consistent copy of the database that never holds an open round's pool (P2).

While a round is open, its sealed answers wait in the pool beside the record of who answered;
a backup holding both would keep, for as long as the backup lives, what the close destroys. So
a backup leaves out the pool, the who-answered records and the delivery records: answers to
rounds open at backup time are not in it (after a restore, workers can answer those rounds
again), and everything else is. SQLite is copied with its online backup API, then the left-out
tables are emptied and the copy vacuumed so no free page keeps them; PostgreSQL goes through
`pg_dump` without those tables' data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import make_url

from survey.storage import Database

LEFT_OUT = ("pool_submission", "participation", "delivery")


class BackupError(RuntimeError):
    """The backup could not be made; nothing was left half-written at the target."""


def backup(db: Database, target: Path) -> Path:
    """Write the backup to ``target`` (mode 0600) and return it."""
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    if not target.parent.is_dir():
        # A typo in the path should not leave a backup where nobody will look for it.
        raise BackupError(f"{target.parent} is not a directory: create it first, or fix the path")
    partial = target.with_name(target.name + ".partial")
    try:
        if db.dialect == "sqlite":
            _sqlite(db, partial)
        elif db.dialect == "postgresql":
            _postgres(db, partial)
        else:
            raise BackupError(f"no backup for {db.dialect}")
        os.chmod(partial, 0o600)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sqlite(db: Database, partial: Path) -> None:
    source = sqlite3.connect(db.engine.url.database or "")
    copy = sqlite3.connect(partial, isolation_level=None)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
        copy.execute("PRAGMA secure_delete = ON")
        for table in LEFT_OUT:
            copy.execute(f'DELETE FROM "{table}"')  # noqa: S608 (our own table names)
        copy.execute("VACUUM")
    finally:
        copy.close()
        source.close()


def _postgres(db: Database, partial: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump was not found: install the PostgreSQL client tools")
    url = make_url(db.engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    command = [pg_dump, "--format=custom", f"--file={partial}"]
    command += [f"--exclude-table-data={table}" for table in LEFT_OUT]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command.append(url.set(password=None).render_as_string(hide_password=False))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
