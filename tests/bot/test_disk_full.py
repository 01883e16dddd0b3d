"""A full disk under the running bot: it stays up, sends nothing it cannot record, says so once
(in its log, and once about the log itself), and goes on by itself when space returns.

The SQLite database and the log file live on a 6 MB filesystem of the test's own, filled to the
last byte while the bot works (tests/small_filesystem.py).
"""

from __future__ import annotations

import logging
import shutil

import pytest

from bot.scheduler import run_tick
from local_bot_api import LocalBotApi
from survey.enrolment import enrol_member
from survey.logs import ResilientFileHandler
from survey.storage import Database, make_engine
from tests.bot.conftest import make_application, running

USERS = [6_300_000_000 + i for i in range(12)]


@pytest.fixture
def db(small_filesystem, sqlite_template):
    """The embedded database on the small filesystem (this module's only engine: a full disk
    is what the embedded default meets; PostgreSQL's own volume is the operator's)."""
    path = small_filesystem.path / "pulse.sqlite3"
    shutil.copyfile(sqlite_template, path)
    database = Database(make_engine(f"sqlite:///{path}"))
    yield database
    database.dispose()


@pytest.fixture
def members(db, keys, org):
    return [
        enrol_member(db, keys, telegram_user_id=u, chat_id=u, unit_id=org["unit"].id) for u in USERS
    ]


def _checkpoint(db: Database) -> None:
    """Empty the write-ahead log, so that the next write needs new space on the disk."""
    assert db.scrub_deleted(()).clean  # a checkpoint that truncates the log


async def test_a_full_disk_sends_nothing_it_cannot_record_and_recovers(
    db, keys, settings, org, members, small_filesystem, caplog
) -> None:
    async with LocalBotApi() as api:
        application = make_application(db, keys, settings, api)
        async with running(application):
            _checkpoint(db)
            small_filesystem.fill()
            with caplog.at_level(logging.WARNING):
                for _ in range(3):  # three ticks while the disk is full
                    await run_tick(application)
            assert all(api.texts(u) == [] for u in USERS)  # nothing it could not record
            cannot = [r for r in caplog.records if "cannot record messages" in r.getMessage()]
            assert 1 <= len(cannot) <= 3  # one line per tick at most, not one per message
            small_filesystem.free()
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                await run_tick(application)
                await run_tick(application)
            assert [len(api.texts(u)) for u in USERS] == [1] * len(USERS)
            assert application.running


def test_an_unwritable_log_says_so_once_and_counts_what_it_lost(small_filesystem, capsys) -> None:
    handler = ResilientFileHandler(small_filesystem.path / "pulse.log", 10_000_000, 2)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.disk_full")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("before")
        small_filesystem.fill()
        for number in range(40):  # more than the page the file already has
            logger.warning("line %d while full: %s", number, "x" * 200)
        errors = capsys.readouterr().err
        assert errors.count("cannot write the log file") == 1, errors
        assert "Traceback" not in errors
        assert "Logging error" not in errors
        small_filesystem.free()
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
        handler.close()
    written = (small_filesystem.path / "pulse.log").read_text().splitlines()
    assert written[0] == "before"
    # What fitted in the file's last page was written; the rest is counted, not lost silently.
    assert written[-1] == "after"
    kept = [line for line in written if line.startswith("line") and line.endswith("x" * 200)]
    lost = int(written[-2].split()[0])
    assert written[-2].endswith("log line(s) were lost while the log file could not be written")
    assert lost > 0
    assert len(kept) + lost == 40
