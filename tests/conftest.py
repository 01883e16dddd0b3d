"""Shared fixtures: every storage and privacy test runs on SQLite and on the PostgreSQL server.

PostgreSQL is reached at PULSE_TEST_POSTGRES_URL (default: the local server, trust auth). The
server is shared with other work on the machine: each test session creates its own throw-away
database there, touches no other, and drops it at the end (a bystander connection to another
database is checked to be alive when the session ends). Tests that restart a server or
terminate backends get a private cluster instead (``db`` parametrized with "private_postgresql",
see tests/private_postgres.py). Where no server answers, PostgreSQL tests are skipped locally
but fail under CI=true, so CI never passes blind.
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
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from survey.crypto import KeyPaths, KeyRing, generate_keys
from survey.enrolment import create_unit, enrol_member
from survey.questions import LockedItem
from survey.rounds import open_round
from survey.settings import SurveySettings
from survey.storage import Database, make_engine, upgrade_to_head
from survey.storage.models import Member, SurveyRound, Unit
from tests.private_postgres import (
    PrivateCluster,
    PrivateClusterUnavailable,
    create_cluster,
    remove_cluster,
)
from tests.small_filesystem import SmallFilesystem, mounted

POSTGRES_URL = os.environ.get(
    "PULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def chromium_path() -> str:
    """Debian's Chromium (scripts/ensure-chromium installs it); the test is skipped without it,
    and fails under CI."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "no Chromium here (scripts/ensure-chromium installs Debian's)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


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
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
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


@pytest.fixture(scope="session", autouse=True)
def shared_server_bystander() -> Iterator[None]:
    """Another program's connection on the shared server, to a database that is not the suite's
    test database: it must be alive when the suite ends (no test terminated or restarted it)."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"pulse_bystander_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield  # no shared server here: nothing to disturb
        return
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    bystander = create_engine(url, poolclass=NullPool)
    connection = bystander.connect()
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    yield
    try:
        alive = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert alive == pid, "a test disturbed another database's connection on the shared server"
    finally:
        connection.close()
        bystander.dispose()
        with admin.connect() as cleanup:
            cleanup.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this session's own (tests/private_postgres.py), with a migrated
    database, for the tests that restart the server or terminate its backends."""
    try:
        cluster = create_cluster()
    except PrivateClusterUnavailable as exc:
        if IN_CI:
            pytest.fail(f"cannot start a private PostgreSQL cluster: {exc}")
        pytest.skip(f"cannot start a private PostgreSQL cluster: {exc}")
    try:
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "pulse"'))
        admin.dispose()
        url = make_url(cluster.url).set(database="pulse").render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade_to_head(engine)
        engine.dispose()
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "pulse.sqlite3"
        shutil.copyfile(sqlite_template, path)
        database = Database(make_engine(f"sqlite:///{path}"))
    elif request.param == "private_postgresql":
        cluster = request.getfixturevalue("private_postgres")
        url = make_url(cluster.url).set(database="pulse").render_as_string(hide_password=False)
        database = Database(make_engine(url))
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
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


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[SmallFilesystem]:
    """A 6 MB filesystem to fill (tests/small_filesystem.py); skipped where mounting is
    impossible (not root, or a container without the right)."""
    with mounted(tmp_path / "small") as filesystem:
        if isinstance(filesystem, str):
            pytest.skip(filesystem)
        yield filesystem
