"""Bring a database to the newest schema with Alembic, from code (`pulse init`, `pulse migrate`).

Alembic is imported inside the functions: every `pulse` command loads this module, few migrate.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    return config


def upgrade_to_head(engine: Engine) -> str:
    """Apply every pending migration; returns the revision the database is at afterwards."""
    return migrate_to(engine, "head")


def migrate_to(engine: Engine, revision: str) -> str:
    """Upgrade or downgrade to ``revision`` (downgrades are for tests and emergencies)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    current = current_revision(engine)
    target = head_revision() if revision == "head" else revision
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds altered tables (batch mode); foreign keys must be off meanwhile,
            # and the pragma only takes effect outside a transaction.
            _driver(connection).execute("PRAGMA foreign_keys = OFF")
        try:
            config.attributes["connection"] = connection
            script = ScriptDirectory.from_config(config)
            ahead = current is not None and target in {
                rev.revision for rev in script.iterate_revisions(current, "base")
            }
            if ahead and target != current:
                command.downgrade(config, target)
            else:
                command.upgrade(config, target)
            if sqlite:
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if problems:
                    raise RuntimeError(f"migration left broken references: {problems[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                _driver(connection).execute("PRAGMA foreign_keys = ON")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded (its ``alembic_version`` table), or None before any.
    Read directly: every command that opens the database asks, and Alembic itself takes a
    tenth of a second to load (tests/test_migrations.py checks it agrees with Alembic)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        found = list(versions)
    if len(found) > 1:
        raise RuntimeError(f"the database records several schema revisions: {found}")
    return found[0] if found else None


_REVISION = re.compile(r"""^revision(?:: str)? = ["']([^"']+)["']""", re.MULTILINE)
_DOWN = re.compile(r"""^down_revision(?:: [^=]+)? = ["']([^"']+)["']""", re.MULTILINE)


@functools.cache
def head_revision() -> str:
    """The newest revision of the migrations shipped with this version: the one no other
    revision builds on (the history is a single line), read from the migration files."""
    revisions, parents = set(), set()
    for script in (_SCRIPT_LOCATION / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision:
            revisions.add(revision.group(1))
        if down:
            parents.add(down.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def _driver(connection: Connection) -> Any:
    """The SQLite driver's own connection, for pragmas that must run outside a transaction."""
    driver = connection.connection.driver_connection
    assert driver is not None, "a live connection has a driver connection"
    return driver
