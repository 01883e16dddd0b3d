"""Which stored figures a report may show: every closed round re-judged by the pinning audit
(aggregation.pinning), with what it refuses held back (aggregation.holdback), before anything
leaves. A closed round's publication never changes, so each verdict is remembered by the digest
of everything it judged and reused only for exactly the same publication.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aggregation.holdback import HoldBackError, hold_back
from aggregation.pinning import ItemScale
from aggregation.statistics import followup_infos, item_constructs, item_infos, item_scales
from survey.figures import UnitFigure
from survey.questions import load_version_by_id, parse_items
from survey.questions.model import QuestionSet
from survey.storage import Database
from survey.storage.models import SurveyRound


def _audited_rounds(
    db: Database,
    rounds: list[SurveyRound],
    rows: Sequence[tuple[int, int, UnitFigure]],
) -> tuple[set[int], list[tuple[int, int, UnitFigure]]]:
    """Every round's stored figures as the pinning audit (``aggregation.pinning``) lets them
    leave, judged on everything each round published (``rows``: all its stored figures), before
    anything leaves: what it refuses is held back (``aggregation.holdback``), and a round whose
    participation it refuses is left out whole. Returns the rounds left out and the rows."""
    sets = _sets_of(db, rounds)
    by_round: dict[int, dict[int, UnitFigure]] = {}
    for round_id, unit, figure in rows:
        by_round.setdefault(round_id, {})[unit] = figure
    withheld: set[int] = set()
    kept: list[tuple[int, int, UnitFigure]] = []
    for survey_round in rounds:
        round_id = survey_round.id or 0
        figures = by_round.get(round_id, {})
        if not figures:
            continue
        asked = [item["key"] for item in survey_round.items]
        round_sets: list[tuple[QuestionSet, Mapping[str, str]]] = [
            (sets[v], {}) for v in survey_round.question_set_versions if v in sets
        ]
        infos = item_infos(round_sets, asked) if round_sets else []
        infos += followup_infos(parse_items(survey_round.items))
        audited = _audited(
            {unit: figure.get("parent") for unit, figure in figures.items()},
            {int(unit): n for unit, n in survey_round.member_counts.items()},
            figures,
            item_scales(infos),
            survey_round.min_group_size,
            survey_round.known_others,
            item_constructs(infos),
        )
        if audited is None:
            withheld.add(round_id)
            continue
        kept += [(round_id, unit, figure) for unit, figure in audited.items()]
    return withheld, kept


#: The pinning audit's outcome by the digest of everything it judged. A closed round's
#: publication never changes (a different re-publication is refused), so every report of every
#: unit would otherwise repeat the same audit of the same twelve rounds.
_VERDICTS: dict[str, dict[int, UnitFigure] | None] = {}
_VERDICTS_KEPT = 4096


def _audited(
    parents: dict[int, Any],
    members: dict[int, int],
    figures: dict[int, UnitFigure],
    scales: list[ItemScale],
    k: int,
    known: int,
    constructs: dict[str, str],
) -> dict[int, UnitFigure] | None:
    """One round's figures as they may leave (None: not at all), remembered by the digest of
    the audit's whole input, so an outcome is reused only for exactly the same publication."""
    digest = hashlib.sha256(
        json.dumps(
            [
                sorted(parents.items()),
                sorted(members.items()),
                sorted((unit, figure) for unit, figure in figures.items()),
                [dataclasses.asdict(scale) for scale in scales],
                k,
                known,
                sorted(constructs.items()),
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    if digest not in _VERDICTS:
        outcome: dict[int, UnitFigure] | None
        try:
            outcome = dict(
                hold_back(parents, members, figures, scales, k, known, constructs).figures
            )
        except HoldBackError:
            outcome = None
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()
        _VERDICTS[digest] = outcome
    return _VERDICTS[digest]


def _sets_of(db: Database, rounds: list[SurveyRound]) -> dict[int, QuestionSet]:
    sets: dict[int, QuestionSet] = {}
    for survey_round in rounds:
        for version_id in survey_round.question_set_versions:
            if version_id not in sets:
                _, sets[version_id] = load_version_by_id(db, version_id)
    return sets
