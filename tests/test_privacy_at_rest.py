"""What someone holding the database (or a backup) can and cannot learn (P1, P2, P4)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from survey.storage import Database
from survey.submissions import release_round, submit

ANSWER = {"behind": 3, "stress": 4, "support": 2}


def _database_bytes(db: Database) -> bytes:
    """The SQLite file and its side files, as a backup or a stolen disk would hold them."""
    path = Path(db.engine.url.database or "")
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _dump(db: Database) -> str:
    """Every value of every table, as text: what a database dump gives an attacker."""
    parts: list[str] = []
    with db.engine.connect() as connection:
        for table in inspect(db.engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                for value in row:
                    is_bytes = isinstance(value, bytes | memoryview)
                    parts.append(value.hex() if is_bytes else str(value))
    return "\n".join(parts)


def _encodings(number: int) -> list[bytes]:
    return [
        str(number).encode(),
        number.to_bytes(8, "big"),
        number.to_bytes(8, "little"),
    ]


def test_database_file_holds_no_telegram_or_chat_id_in_clear(make_world) -> None:
    world = make_world((6, 6))
    if world.db.dialect != "sqlite":
        pytest.skip("reads the SQLite file")
    for member in world.members:
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    release_round(world.db, world.keys, world.round.id)
    raw = _database_bytes(world.db)
    assert len(raw) > 10_000
    for telegram_id in world.telegram_ids:  # chat id == user id in private chats
        for encoded in _encodings(telegram_id):
            assert encoded not in raw


def test_dump_and_all_telegram_ids_without_the_key_match_no_member(make_world) -> None:
    world = make_world((6, 6))
    dump = _dump(world.db)
    pseudonyms = {m.pseudonym for m in world.members}
    assert pseudonyms <= set(dump.split("\n"))  # the dump does hold the pseudonyms...
    for telegram_id in world.telegram_ids:
        clear = str(telegram_id)
        assert clear not in dump
        guesses = {
            hashlib.sha256(clear.encode()).hexdigest(),
            hashlib.sha1(clear.encode()).hexdigest(),  # noqa: S324
            hashlib.md5(clear.encode()).hexdigest(),  # noqa: S324
            hashlib.blake2b(clear.encode(), digest_size=32).hexdigest(),
            hmac.new(b"", clear.encode(), hashlib.sha256).hexdigest(),
            hmac.new(b"staff-pulse", clear.encode(), hashlib.sha256).hexdigest(),
        }
        assert not guesses & pseudonyms  # ...but no keyless guess reproduces one


def test_destroyed_pool_rows_leave_no_readable_payload(make_world) -> None:
    world = make_world((8, 8))
    if world.db.dialect != "sqlite":
        pytest.skip("reads the SQLite file and WAL")
    for member in world.members:
        submit(world.db, world.keys, member_id=member.id, round_id=world.round.id, answers=ANSWER)
    with world.db.engine.connect() as connection:
        pool = list(connection.execute(text("SELECT sealed FROM pool_submission")).scalars())
    assert len(pool) == 16
    # Probes from the start, middle and end of each payload (the header, ciphertext and tag).
    probes = [bytes(p[i : i + 24]) for p in pool for i in (9, 700, len(p) - 24)]
    before = _database_bytes(world.db)
    assert all(probe in before for probe in probes)  # the check can see pool payloads...
    release_round(world.db, world.keys, world.round.id)
    after = _database_bytes(world.db)
    leftovers = [probe for probe in probes if probe in after]
    assert leftovers == []  # ...and after close none is left in the file or the WAL
