"""Alembic environment: runs against the engine handed over by ``survey.storage.migrate``.

Standalone use (``alembic -c alembic.ini revision --autogenerate``) builds the engine from the
same ``PULSE_*`` settings as the application, so there is one source for the database URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import survey.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from survey.settings import SurveySettings
from survey.storage.engine import make_engine

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    settings = SurveySettings()
    engine = make_engine(settings.resolved_database_url, settings)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
