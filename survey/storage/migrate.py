"""Bring a database to the newest schema with Alembic, from code (`pulse init`, `pulse migrate`).

Alembic is imported inside the functions: every `pulse` command loads this module, few migrate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

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
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _driver(connection: Connection) -> Any:
    """The SQLite driver's own connection, for pragmas that must run outside a transaction."""
    driver = connection.connection.driver_connection
    assert driver is not None, "a live connection has a driver connection"
    return driver
