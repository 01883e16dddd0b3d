"""P2 verified: a close that cannot scrub what it destroyed says so, and finishes it later.

Someone holds a snapshot from before the close (a long report, a file backup, a replication
tool): on SQLite the checkpoint cannot truncate the WAL that still holds the pool and
participation rows; on PostgreSQL VACUUM cannot remove them. Close must not claim to be clean.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text

from survey.installation import status
from survey.storage.models import SurveyRound
from survey.submissions import release_round, retry_scrubs, submit

ANSWER = {"behind": 3, "stress": 4, "support": 2}


def _pending(world) -> bool:
    with world.db.session() as session:
        return session.get(SurveyRound, world.round.id).scrub_pending


def _wal_and_file(world) -> bytes:
    path = Path(world.db.engine.url.database or "")
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _everyone_answers(world) -> tuple[list[bytes], list[bytes]]:
    """Every member answers; the pooled payloads, and probes that find them in raw bytes."""
    for member in world.members:
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    with world.db.engine.connect() as connection:
        pool = list(connection.execute(text("SELECT sealed FROM pool_submission")).scalars())
    return pool, [bytes(p[i : i + 24]) for p in pool for i in (9, 700)]


def test_a_reader_holding_a_snapshot_keeps_the_close_from_claiming_clean(make_world) -> None:
    world = make_world((6, 6))
    _, probes = _everyone_answers(world)

    if world.db.dialect == "sqlite":
        reader = sqlite3.connect(world.db.engine.url.database, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM pool_submission").fetchone()
        finish = reader.close
    else:
        engine = create_engine(
            world.db.engine.url.render_as_string(hide_password=False),
            isolation_level="REPEATABLE READ",
        )
        connection = engine.connect()
        connection.execute(text("SELECT count(*) FROM pool_submission")).scalar()

        def finish() -> None:
            connection.close()
            engine.dispose()

    summary = release_round(world.db, world.keys, world.round.id)
    assert summary.scrubbed is False  # not claimed clean while the snapshot is there
    assert _pending(world)
    assert status(world.settings, world.db).scrub_pending == 1
    if world.db.dialect == "sqlite":
        assert any(probe in _wal_and_file(world) for probe in probes)  # the remnant is real
    assert retry_scrubs(world.db) == [world.round.id]  # still held: still pending

    finish()
    assert retry_scrubs(world.db) == []  # the next tick finishes the scrub
    assert not _pending(world)
    assert status(world.settings, world.db).scrub_pending == 0
    if world.db.dialect == "sqlite":
        assert [probe for probe in probes if probe in _wal_and_file(world)] == []


def test_a_close_with_nobody_reading_is_clean_at_once(make_world) -> None:
    world = make_world((6, 6))
    _everyone_answers(world)
    assert release_round(world.db, world.keys, world.round.id).scrubbed is True
    assert not _pending(world)


def test_a_backup_never_holds_an_open_rounds_pool(make_world, tmp_path: Path) -> None:
    import subprocess

    from survey.backup import backup

    world = make_world((6, 6))
    pool, probes = _everyone_answers(world)
    target = backup(world.db, tmp_path / "pulse.backup")
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    if world.db.dialect == "sqlite":
        copy = sqlite3.connect(target)
        assert copy.execute("SELECT count(*) FROM pool_submission").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM participation").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM member").fetchone() == (12,)
        copy.close()
        content = target.read_bytes()
    else:
        content = subprocess.run(
            ["pg_restore", "--data-only", "-f", "-", str(target)], capture_output=True, check=True
        ).stdout
        assert b"COPY public.member" in content
    assert [probe for probe in probes if probe in content] == []
    for probe in (p.hex()[:48].encode() for p in pool):  # pg_restore prints bytea as hex
        assert probe not in content


def test_postgresql_keeps_no_destroyed_pool_row_in_its_table_files(make_world) -> None:
    """The remnant test for PostgreSQL: after a clean close, the table files of the pool and
    participation (and the pool's TOAST table, where the sealed payloads live) hold none of the
    destroyed rows. Reads the server's files: needs the server on this machine."""
    import pytest

    world = make_world((6, 6))
    if world.db.dialect != "postgresql":
        pytest.skip("reads PostgreSQL's table files")
    _, probes = _everyone_answers(world)
    admin = world.db.engine.execution_options(isolation_level="AUTOCOMMIT")
    relations = (
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relname IN "
        "('pool_submission', 'participation') UNION ALL "
        "SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
        "WHERE c.relname = 'pool_submission'"
    )

    def table_bytes() -> bytes:
        with admin.connect() as connection:
            connection.execute(text("CHECKPOINT"))  # shared buffers to the files
            home = Path(connection.execute(text("SHOW data_directory")).scalar_one())
            files = [home / p for p in connection.execute(text(relations)).scalars() if p]
        readable = [f for f in files if f.exists()]
        if not readable:
            pytest.skip("the server's files are not readable from here")
        return b"".join(f.read_bytes() for f in readable)

    assert any(probe in table_bytes() for probe in probes)  # the check can see them
    assert release_round(world.db, world.keys, world.round.id).scrubbed
    assert [probe for probe in probes if probe in table_bytes()] == []
