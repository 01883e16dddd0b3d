"""Trends over rounds: a unit's indices round by round for the report's table and charts, and
every unit's indices of an organisation from the compact stored column (for trend views at the
scale of a city: bench/bench_aggregation.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Text, cast
from sqlmodel import col, select

from aggregation.report import UnitReport
from survey.storage import Database
from survey.storage.models import RoundState, RoundStatistic, SurveyRound


@dataclass(frozen=True)
class TrendRow:
    """One construct's latest figures; NaN where not shown."""

    construct: str
    round_id: int
    index: float
    change_previous: float
    change_4_round_mean: float
    parent: float
    organisation: float


def trend_rows(report: UnitReport) -> list[TrendRow]:
    """Per construct, from the rounds that asked it: the latest index, its change against the
    previous such round and against the mean of the four before, the parent's and the
    organisation's index in that round, and when that was."""
    rows = []
    nan = float("nan")
    for construct in report.indices.columns:
        asked = report.asked[construct]
        rounds = [r for r, was in zip(asked.index.tolist(), asked.tolist(), strict=True) if was]
        if not rounds:
            continue
        values = report.indices.loc[rounds, construct].to_numpy(dtype=float)
        latest_round = rounds[-1]
        latest = float(values[-1])
        previous = float(values[-2]) if len(values) > 1 else nan
        earlier = values[-5:-1][~np.isnan(values[-5:-1])]
        rows.append(
            TrendRow(
                construct=str(construct),
                round_id=int(latest_round),
                index=latest,
                change_previous=latest - previous,
                change_4_round_mean=latest - float(earlier.mean()) if len(earlier) else nan,
                parent=_frame_value(report.parent_indices, latest_round, construct),
                organisation=_frame_value(report.org_indices, latest_round, construct),
            )
        )
    return rows


def _frame_value(frame: pd.DataFrame, row: int, column: str) -> float:
    value = frame.at[row, column]
    return float(value)  # type: ignore[arg-type]  # pandas-stubs types a cell as any scalar; index frames hold floats


def organisation_trends(db: Database, unit_id: int, rounds: int = 52) -> pd.DataFrame:
    """Construct indices of every unit in ``unit_id``'s rounds, one row per (round, unit), one
    column per construct; hidden figures are NaN. Reads only the compact ``indices`` column,
    as text decoded in one pass: per-row JSON decoding would cost more than everything else."""
    with db.transaction() as connection:
        closed = connection.execute(
            select(SurveyRound.id, SurveyRound.member_counts)
            .where(SurveyRound.state == RoundState.CLOSED)
            .order_by(col(SurveyRound.closes_at))
        ).all()
        round_ids = [r for r, counts in closed if str(unit_id) in counts][-rounds:]
        rows = connection.execute(
            select(
                RoundStatistic.round_id,
                RoundStatistic.unit_id,
                cast(RoundStatistic.indices, Text),
            ).where(col(RoundStatistic.round_id).in_(round_ids))
        ).all()
    records = json.loads("[" + ",".join(text for _, _, text in rows) + "]")
    frame = pd.DataFrame.from_records(
        records,
        index=pd.MultiIndex.from_arrays(
            [[r for r, _, _ in rows], [u for _, u, _ in rows]], names=["round_id", "unit_id"]
        ),
    )
    return frame.sort_index()
