"""Benchmark of aggregation: closing a round, and reading trends from stored statistics.

    python bench/bench_aggregation.py [--submissions 10000] [--units 1000] [--rounds 52]

Targets from the aggregation issue:
- closing a round of 10,000 submissions costs at most 1.5x the bare unseal time of those
  submissions (measured in the same run);
- an organisation-wide trend (1,000 units x 52 rounds) from stored statistics takes < 0.5 s and
  is at least 20x faster than recomputing it from the raw answers.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregation.close import compute_statistics
from aggregation.trends import organisation_trends
from bench.bench_core import Installation, _enrol_bulk
from bench.report import publish
from survey.crypto import Unsealer, seal_context
from survey.enrolment import create_unit
from survey.questions import (
    LockedItem,
    import_question_set,
    load_question_set_file,
    load_version,
)
from survey.questions.model import items_for_round
from survey.rounds import open_round
from survey.settings import SurveySettings
from survey.storage.models import (
    PoolSubmission,
    RoundState,
    RoundStatistic,
    SurveyRound,
)
from survey.submissions import release_round

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"


def bench_close(workdir: Path, submissions: int, figures: dict[str, object]) -> None:
    settings = SurveySettings(_env_file=None, data_dir=workdir)
    install = Installation(f"sqlite:///{workdir / 'pulse.sqlite3'}", workdir, settings)
    question_set = load_question_set_file(SETS / "social-work-weekly.yaml")
    import_question_set(install.db, question_set)
    row, _ = load_version(install.db, question_set.id)
    items = [
        LockedItem(key=i.key, options=tuple(question_set.answer_values(i)), version_id=row.id)
        for i in items_for_round(question_set, 0)
    ]
    members = _enrol_bulk(install.db, install.keys, install.units, submissions)
    now = datetime.now(UTC)
    survey_round = open_round(
        install.db,
        install.keys,
        settings,
        unit_id=install.root,
        items=items,
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=1),
        question_set_versions=[row.id],
    )
    rng = random.Random(3)

    def answers() -> dict[str, object]:
        return {i.key: rng.choice(i.options) for i in items}

    install.submit_concurrently(survey_round.id, members, 64, answers)
    with install.db.session() as session:
        pool = session.execute(
            select(col(PoolSubmission.unit_id), col(PoolSubmission.sealed)).where(
                col(PoolSubmission.round_id) == survey_round.id
            )
        ).all()
    private = install.keys.report_private_key(survey_round.report_key_id)
    start = time.perf_counter()
    for unit_id, sealed in pool:
        Unsealer(private).unseal(sealed, seal_context(survey_round.id, unit_id))
    bare = time.perf_counter() - start

    start = time.perf_counter()
    release_round(install.db, install.keys, survey_round.id)
    released = time.perf_counter() - start
    start = time.perf_counter()
    compute_statistics(install.db, install.keys, survey_round.id)
    computed = time.perf_counter() - start
    figures[f"bare unseal of {submissions} submissions (s)"] = round(bare, 2)
    figures["close: anonymous release (s)"] = round(released, 2)
    figures["close: statistics (unseal once + pandas + disclosure + store) (s)"] = round(
        computed, 2
    )
    figures["close total / bare unseal"] = round((released + computed) / bare, 2)
    figures["statistics alone / bare unseal"] = round(computed / bare, 2)
    install.db.dispose()


def bench_trends(workdir: Path, units: int, rounds: int, figures: dict[str, object]) -> float:
    """Stored statistics for units x rounds, as close would write them; then read the trend."""
    settings = SurveySettings(_env_file=None, data_dir=workdir)
    install = Installation(f"sqlite:///{workdir / 'pulse.sqlite3'}", workdir, settings)
    root = create_unit(install.db, "Regionen", kind="forvaltning").id
    unit_ids = [create_unit(install.db, f"Enhet {i}", parent_id=root).id for i in range(units - 1)]
    scope = {str(u): 8 for u in [root, *unit_ids]}
    rng = random.Random(7)
    constructs = ["workload", "quality_pressure", "stress", "exhaustion", "support", "meaning"]
    start_day = datetime(2025, 1, 6, 8, tzinfo=UTC)
    with install.db.transaction() as connection:
        for week in range(rounds):
            opens = start_day + timedelta(weeks=week)
            inserted = connection.execute(
                insert(SurveyRound).values(
                    unit_id=root,
                    question_set_versions=[],
                    items=[],
                    min_group_size=5,
                    known_others=1,
                    spread_min_group_size=10,
                    member_counts=scope,
                    report_key_id="bench",
                    opens_at=opens,
                    closes_at=opens + timedelta(days=3),
                    state=RoundState.CLOSED,
                    sequence=week,
                )
            ).inserted_primary_key
            assert inserted is not None
            round_id = inserted[0]
            rows = []
            for unit in [root, *unit_ids]:
                indices = {c: round(rng.uniform(20, 80), 1) for c in constructs}
                figure = {
                    "shown": True,
                    "respondents": 8,
                    "members": 9,
                    "parent": root,
                    "items": {},
                    "constructs": {c: {"n": 8, "index": v} for c, v in indices.items()},
                }
                rows.append(
                    {"round_id": round_id, "unit_id": unit, "figures": figure, "indices": indices}
                )
            connection.execute(insert(RoundStatistic), rows)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        frame = organisation_trends(install.db, root, rounds)
        timings.append(time.perf_counter() - start)
    assert frame.shape == (units * rounds, len(constructs))
    stored = statistics.median(timings)
    figures[f"trend {units} units x {rounds} rounds from stored statistics (s)"] = round(stored, 3)
    install.db.dispose()
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=52)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pulse-bench-agg-") as tmp:
        bench_close(Path(tmp) / "close", args.submissions, figures)
        stored = bench_trends(Path(tmp) / "trend", args.units, args.rounds, figures)
    # Recomputing the same trend from raw answers means computing every round's statistics
    # again: measured above for one round of the given size, times the number of rounds.
    per_round = figures["close: statistics (unseal once + pandas + disclosure + store) (s)"]
    assert isinstance(per_round, int | float)
    recompute = float(per_round) * args.rounds
    figures[f"recompute {args.rounds} rounds from raw answers (s, {args.rounds} x one round)"] = (
        round(recompute, 1)
    )
    figures["stored / recompute speed-up"] = round(recompute / stored)
    close_ratio = figures["close total / bare unseal"]
    assert isinstance(close_ratio, float)
    publish(
        "Staff Pulse aggregation benchmark",
        figures,
        [
            (f"close <= 1.5x bare unseal ({close_ratio}x)", close_ratio <= 1.5),
            (
                "trend < 0.5 s and >= 20x faster than recomputing",
                stored < 0.5 and recompute / stored >= 20,
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
