"""Shared fixtures: every storage and privacy test runs on SQLite and on the PostgreSQL server.

PostgreSQL is reached at PULSE_TEST_POSTGRES_URL (default: the local server, trust auth). Each
test session creates its own throw-away database there and drops it at the end. Where no server
answers, PostgreSQL tests are skipped locally but fail under CI=true, so CI never passes blind.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from survey.crypto import KeyPaths, KeyRing, generate_keys
from survey.enrolment import create_unit, enrol_member
from survey.questions import LockedItem
from survey.rounds import open_round
from survey.settings import SurveySettings
from survey.storage import Database, make_engine, upgrade_to_head
from survey.storage.models import Member, SurveyRound, Unit

POSTGRES_URL = os.environ.get(
    "PULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Every table of the models, children first, so TRUNCATE order never needs updating.
TABLES = tuple(table.name for table in reversed(SQLModel.metadata.sorted_tables))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "pulse.sqlite3"
    database = Database(make_engine(f"sqlite:///{path}"))
    upgrade_to_head(database.engine)
    database.scrub_deleted(())
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session, migrated to head."""
    # pool_pre_ping: a test restarts the server (tests/bot/test_sending.py); teardown must
    # still reach it.
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"pulse_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "pulse.sqlite3"
        shutil.copyfile(sqlite_template, path)
        database = Database(make_engine(f"sqlite:///{path}"))
    else:
        url = request.getfixturevalue("postgres_database")
        database = Database(make_engine(url))
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> SurveySettings:
    return SurveySettings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture
def keys(settings: SurveySettings) -> KeyRing:
    paths = KeyPaths(settings.resolved_keys_dir, settings.resolved_report_private_keys_dir)
    generate_keys(paths)
    return KeyRing(paths)


FIVE_POINT = (1, 2, 3, 4, 5)
DEFAULT_ITEMS = (
    LockedItem(key="behind", options=FIVE_POINT),
    LockedItem(key="stress", options=FIVE_POINT),
    LockedItem(key="support", options=FIVE_POINT),
    LockedItem(key="deadlines", options=("yes", "no", "na"), required=False),
)


@dataclass
class World:
    """A small organisation with an open round, built through the public survey functions."""

    db: Database
    keys: KeyRing
    settings: SurveySettings
    root: Unit
    teams: list[Unit]
    members: list[Member]
    telegram_ids: list[int]
    round: SurveyRound


@pytest.fixture
def make_world(db: Database, keys: KeyRing, settings: SurveySettings):
    def build(workers_per_team: tuple[int, ...] = (6, 6), items=DEFAULT_ITEMS) -> World:
        root = create_unit(db, "Individ- och familjeomsorg", kind="enhet")
        teams = [
            create_unit(db, f"Team {i + 1}", parent_id=root.id, kind="team")
            for i in range(len(workers_per_team))
        ]
        members: list[Member] = []
        telegram_ids: list[int] = []
        for team, count in zip(teams, workers_per_team, strict=True):
            for _ in range(count):
                telegram_id = 5_000_000_000 + secrets.randbelow(1_000_000_000)
                telegram_ids.append(telegram_id)
                members.append(
                    enrol_member(
                        db,
                        keys,
                        telegram_user_id=telegram_id,
                        chat_id=telegram_id,
                        unit_id=team.id,
                    )
                )
        now = datetime.now(UTC)
        survey_round = open_round(
            db,
            keys,
            settings,
            unit_id=root.id,
            items=list(items),
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=3),
        )
        return World(db, keys, settings, root, teams, members, telegram_ids, survey_round)

    return build
