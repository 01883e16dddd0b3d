"""Benchmark of the survey core: sealing, accepting check-ins, and releasing a round.

Prints one table of figures (and writes it as JSON with --json). Targets from the core issue:
accepting a submission costs at most 3x its sealing cost on SQLite.

    python bench/bench_core.py                      # SQLite, plus PostgreSQL if reachable
    python bench/bench_core.py --release 10000 --postgres-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, text
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.report import publish
from survey.crypto import KeyPaths, KeyRing, generate_keys, seal, seal_context, unseal
from survey.enrolment import create_unit
from survey.intake import SubmissionIntake
from survey.questions import LockedItem
from survey.rounds import open_round
from survey.settings import SurveySettings
from survey.storage import Database, make_engine, upgrade_to_head
from survey.storage.models import Member, Role
from survey.submissions import encode_answers, release_round, submit

# A realistic weekly check-in: twelve items, the default set's size before rotation.
ITEMS = [LockedItem(key=f"item_{i}", options=(1, 2, 3, 4, 5)) for i in range(12)]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _answers() -> dict[str, int]:
    return {item.key: 1 + secrets.randbelow(5) for item in ITEMS}


def _per_op(fn: Callable[[], object], count: int, batches: int = 5) -> float:
    """Median seconds per call over several batches (robust against a noisy neighbour)."""
    per_batch = max(1, count // batches)
    timings = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            fn()
        timings.append((time.perf_counter() - start) / per_batch)
    return statistics.median(timings)


def _enrol_bulk(db: Database, keys: KeyRing, unit_ids: list[int], count: int) -> list[int]:
    """Bench setup only: members made with the product's crypto, inserted in one statement."""
    pseudonymizer, cipher = keys.pseudonymizer(), keys.chat_id_cipher()
    rows = []
    for i in range(count):
        telegram_id = 6_000_000_000 + i
        pseudonym = pseudonymizer.pseudonym(telegram_id)
        rows.append(
            {
                "pseudonym": pseudonym,
                "chat_id_sealed": cipher.encrypt(telegram_id, pseudonym),
                "role": Role.WORKER,
                "unit_id": unit_ids[i % len(unit_ids)],
                "language": "sv",
                "status": "active",
            }
        )
    with db.transaction() as connection:
        connection.execute(insert(Member), rows)
        return list(connection.execute(text("SELECT id FROM member ORDER BY id")).scalars())[
            -count:
        ]


class Installation:
    def __init__(self, url: str, workdir: Path, settings: SurveySettings) -> None:
        self.settings = settings
        self.db = Database(make_engine(url, settings))
        upgrade_to_head(self.db.engine)
        paths = KeyPaths(workdir / "keys", workdir / "keys")
        generate_keys(paths)
        self.keys = KeyRing(paths)
        self.root = create_unit(self.db, "Socialförvaltningen", kind="forvaltning").id
        self.units = [create_unit(self.db, f"Enhet {i}", parent_id=self.root).id for i in range(20)]

    def open(self) -> int:
        now = datetime.now(UTC)
        survey_round = open_round(
            self.db,
            self.keys,
            self.settings,
            unit_id=self.root,
            items=ITEMS,
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
        )
        return survey_round.id

    def submit_concurrently(
        self,
        round_id: int,
        member_ids: list[int],
        callers: int,
        make_answers: Callable[[], dict[str, object]] | None = None,
    ) -> float:
        """Seconds per accepted submission with ``callers`` members pressing "send" at once,
        through the group-commit intake the bot uses (asyncio, as in the bot)."""
        intake = SubmissionIntake(self.db, self.keys)
        make: Callable[[], Mapping[str, object]] = make_answers or _answers
        work = [(m, make()) for m in member_ids]
        chunks = [work[i::callers] for i in range(callers)]

        async def caller(chunk: list[tuple[int, Mapping[str, object]]]) -> None:
            for member_id, answer in chunk:
                await intake.submit(member_id=member_id, round_id=round_id, answers=answer)

        async def everyone() -> None:
            await asyncio.gather(*(caller(chunk) for chunk in chunks))

        start = time.perf_counter()
        asyncio.run(everyone())
        return (time.perf_counter() - start) / len(member_ids)

    def submit_all(self, round_id: int, member_ids: list[int]) -> float:
        """Seconds per accepted submission, median over five batches."""
        answers = [_answers() for _ in member_ids]
        batches = [list(zip(member_ids, answers, strict=True))[i::5] for i in range(5)]
        timings = []
        for batch in batches:
            start = time.perf_counter()
            for member_id, answer in batch:
                submit(self.db, self.keys, member_id=member_id, round_id=round_id, answers=answer)
            timings.append((time.perf_counter() - start) / len(batch))
        return statistics.median(timings)


def bench_engine(
    name: str,
    url: str,
    workdir: Path,
    args: argparse.Namespace,
    seal_cost: float,
    figures: dict[str, object],
) -> None:
    settings = SurveySettings(_env_file=None, data_dir=workdir)
    install = Installation(url, workdir, settings)
    members = _enrol_bulk(install.db, install.keys, install.units, args.release)
    round_id = install.open()
    timed = args.submissions
    single = install.submit_all(round_id, members[:timed])
    figures[f"{name}: accept one submission, one caller (us)"] = round(single * 1e6, 1)
    figures[f"{name}: one caller: cost / seal cost"] = round(single / seal_cost, 2)
    grouped = install.submit_concurrently(round_id, members[timed : 2 * timed], args.callers)
    figures[f"{name}: accept, {args.callers} callers at once (us each)"] = round(grouped * 1e6, 1)
    figures[f"{name}: submissions accepted per second"] = round(1 / grouped)
    figures[f"{name}: accept cost / seal cost"] = round(grouped / seal_cost, 2)
    # Fill the round up to the release size (not timed), then time the release itself.
    install.submit_concurrently(round_id, members[2 * timed :], args.callers)
    start = time.perf_counter()
    summary = release_round(install.db, install.keys, round_id)
    elapsed = time.perf_counter() - start
    # Everyone answered: each group leaves J + 2 answers out (P6), at most that per unit.
    left_out = (install.settings.known_others + 2) * len(install.units)
    assert args.release - left_out <= summary.respondents <= args.release
    figures[f"{name}: release {args.release} submissions (s)"] = round(elapsed, 2)
    figures[f"{name}: release per submission (us)"] = round(elapsed / args.release * 1e6, 1)
    if name == "SQLite":
        # A second round, released under tracemalloc: Python heap peak of a release.
        round_id = install.open()
        install.submit_concurrently(round_id, members, args.callers)
        tracemalloc.start()
        release_round(install.db, install.keys, round_id)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        figures[f"{name}: release peak Python heap (MiB)"] = round(peak / 2**20, 1)
    install.db.dispose()


def _postgres_database(url: str) -> tuple[str, Callable[[], None]] | None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"pulse_bench_{os.getpid()}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        print(f"PostgreSQL skipped: {exc.orig}", file=sys.stderr)
        return None

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000, help="timed submissions")
    parser.add_argument("--release", type=int, default=10_000, help="submissions per release")
    parser.add_argument("--callers", type=int, default=64, help="members answering at once")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("PULSE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.submissions = min(args.submissions, args.release // 2)

    figures: dict[str, object] = {}
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    plaintext = encode_answers(_answers())
    context = seal_context(1, 1)
    sealed = seal(key.public_key(), plaintext, context)
    seal_cost = _per_op(lambda: seal(key.public_key(), plaintext, context), 5000)
    unseal_cost = _per_op(lambda: unseal(key, sealed, context), 5000)
    figures["seal one submission (us)"] = round(seal_cost * 1e6, 1)
    figures["unseal one submission (us)"] = round(unseal_cost * 1e6, 1)

    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        workdir = Path(tmp) / "sqlite"
        bench_engine(
            "SQLite", f"sqlite:///{workdir / 'pulse.sqlite3'}", workdir, args, seal_cost, figures
        )
        if not args.no_postgres:
            created = _postgres_database(args.postgres_url)
            if created:
                url, drop = created
                try:
                    bench_engine("PostgreSQL", url, Path(tmp) / "pg", args, seal_cost, figures)
                finally:
                    drop()

    figures["peak RSS of the process (MiB)"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    ratio = figures["SQLite: accept cost / seal cost"]
    assert isinstance(ratio, int | float)
    publish(
        "Staff Pulse core benchmark",
        figures,
        [(f"accepting costs <= 3x sealing on SQLite ({ratio}x)", ratio <= 3)],
        args.json,
    )


if __name__ == "__main__":
    main()
