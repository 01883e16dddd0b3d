"""P1 in the schema itself: what the response table can and cannot hold, on both engines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from survey.storage import Database, current_revision, head_revision

FORBIDDEN_IN_RESPONSES = ("member", "telegram", "user", "chat", "message", "update", "time", "at")


def test_migrations_bring_the_database_to_head(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


@pytest.mark.parametrize("table", ["response", "pool_submission"])
def test_answer_tables_hold_only_id_round_unit_and_payload(db: Database, table: str) -> None:
    inspector = inspect(db.engine)
    columns = {column["name"] for column in inspector.get_columns(table)}
    assert columns == {"id", "round_id", "unit_id", "sealed"}
    for column in columns:
        parts = column.split("_")
        assert not any(word in parts for word in FORBIDDEN_IN_RESPONSES), column
    referenced = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
    assert referenced == {"survey_round", "unit"}


def test_no_table_holds_both_a_member_and_an_answer(db: Database) -> None:
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        columns = {column["name"] for column in inspector.get_columns(table)}
        refers_to_member = "member_id" in columns or any(
            fk["referred_table"] == "member" for fk in inspector.get_foreign_keys(table)
        )
        assert not (refers_to_member and "sealed" in columns), table


def test_participation_has_no_time_or_answer(db: Database) -> None:
    columns = {c["name"] for c in inspect(db.engine).get_columns("participation")}
    assert columns == {"round_id", "pseudonym"}


def test_sqlite_answer_and_participation_tables_have_no_rowid(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("rowid is SQLite's")
    with db.engine.connect() as connection:
        for table in ("response", "pool_submission", "participation"):
            with pytest.raises(OperationalError, match="no such column: rowid"):
                connection.execute(text(f"SELECT rowid FROM {table}"))  # noqa: S608


def test_sqlite_pragmas_are_on(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
