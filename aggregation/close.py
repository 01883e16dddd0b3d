"""Closing a round end to end: the core's anonymous release, then statistics, stored once.

Statistics need the report private key (answers are sealed); they are computed here once and the
published figures stored, so reports never need the key or the raw answers again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select

from aggregation.disclosure import Tree
from aggregation.holdback import HoldBackError, hold_back
from aggregation.statistics import (
    DisclosureAuditError,
    ItemInfo,
    followup_infos,
    item_constructs,
    item_infos,
    item_scales,
    round_figures,
)
from survey.crypto import KeyRing, Unsealer, seal_context
from survey.figures import FIGURES_VERSION, RoundFigures, UnitFigure, as_stored, stored_figure
from survey.questions import load_version_by_id, parse_items
from survey.questions.locked import LockedItem
from survey.storage import Database
from survey.storage.models import (
    Response,
    RoundState,
    RoundStatistic,
    RoundUnitCount,
    SurveyRound,
    Unit,
)
from survey.submissions import ReleaseSummary, decode_answers, release_round

log = logging.getLogger(__name__)


class StatisticsError(RuntimeError):
    """Statistics could not be computed (round open, answers purged, key missing...)."""


@dataclass(frozen=True)
class CloseResult:
    release: ReleaseSummary
    units_shown: int
    units_hidden: int
    recomputed: bool


def close_round(
    db: Database,
    keys: KeyRing,
    round_id: int,
    *,
    now: datetime | None = None,
    chance: random.Random | None = None,
) -> CloseResult:
    """Release the round (if still open) and compute its statistics (if not yet done).
    ``chance``: see ``release_round`` (only `pulse demo` passes one)."""
    release = release_round(db, keys, round_id, now=now, chance=chance)
    if _has_statistics(db, round_id):
        shown, hidden = _counts(db, round_id)
        return CloseResult(release, shown, hidden, recomputed=False)
    shown, hidden = compute_statistics(db, keys, round_id)
    return CloseResult(release, shown, hidden, recomputed=True)


def release_with_statistics(
    db: Database,
    keys: KeyRing,
    round_id: int,
    *,
    now: datetime | None = None,
    chance: random.Random | None = None,
) -> ReleaseSummary:
    """``close_round`` in the shape the lifecycle tick takes (it reports the release)."""
    return close_round(db, keys, round_id, now=now, chance=chance).release


def compute_statistics(db: Database, keys: KeyRing, round_id: int) -> tuple[int, int]:
    """(Re)compute and store the published figures of a closed round; returns (shown, hidden).

    Long because it reads everything the round locked in one session before anything is unsealed;
    holding back and storing are functions of their own.
    """
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None:
            raise StatisticsError(f"round {round_id} does not exist")
        if survey_round.state != RoundState.CLOSED:
            raise StatisticsError(
                f"round {round_id} is still open: nothing is computed before close"
            )
        scope = [int(u) for u in survey_round.member_counts]
        parents = dict(
            session.execute(select(Unit.id, Unit.parent_id).where(col(Unit.id).in_(scope))).all()
        )
        rows = session.execute(
            select(Response.unit_id, Response.id, Response.sealed).where(
                Response.round_id == round_id
            )
        ).all()
        stored = {
            unit: (figure, parent)
            for unit, figure, parent in (
                (row.unit_id, row.figures, row.figures.get("parent"))
                for row in session.execute(
                    select(RoundStatistic).where(RoundStatistic.round_id == round_id)
                ).scalars()
            )
        }
        key_id = survey_round.report_key_id
        locked = parse_items(survey_round.items)
        version_ids = list(survey_round.question_set_versions)
        k, spread_k = survey_round.min_group_size, survey_round.spread_min_group_size
        known = survey_round.known_others
        members = {int(u): n for u, n in survey_round.member_counts.items()}
        publication = (
            {int(u): f for u, f in survey_round.publication.items()}
            if survey_round.publication
            else None
        )
    released = sum(_release_counts(db, round_id))
    if released and not rows:
        raise StatisticsError(
            f"round {round_id}: its answers were purged after the retention period; the stored "
            "statistics are all that is left"
        )
    unsealer = Unsealer(keys.report_private_key(key_id))
    answers = [
        (
            unit_id,
            str(response_id),
            decode_answers(unsealer.unseal(sealed, seal_context(round_id, unit_id))),
        )
        for unit_id, response_id, sealed in rows
    ]
    infos = _infos_of(db, version_ids, locked)
    if publication is not None:
        # Released by groups: the tree and who-answered figures were decided at close, and each
        # answer already carries its group (survey.grouping).
        tree = Tree({unit: figure.get("parent") for unit, figure in publication.items()})
    elif stored:
        # Re-publication: only on the tree the round was first published on, and only when it
        # publishes exactly the same; two different publications of one round could be
        # subtracted from each other (P6).
        tree = Tree({unit: parent for unit, (_, parent) in stored.items()})
    else:
        tree = Tree(
            {unit: (parent if parent in parents else None) for unit, parent in parents.items()}
        )
    figures = round_figures(
        tree=tree,
        answers=answers,
        items=infos,
        members=members,
        k=k,
        spread_k=spread_k,
        known=known,
        participation=publication,
    )
    figures = _held_back(round_id, tree, members, figures, infos, k, known)
    if stored:
        before = {unit: figure for unit, (figure, _) in stored.items()}
        if before != figures:
            raise StatisticsError(
                f"round {round_id}: recomputing would publish figures that differ from those "
                "published at close; both together could reveal individual answers, so the "
                "published figures stay as they are"
            )
    else:
        _store(db, round_id, figures)
    shown = sum(1 for f in figures.values() if f["shown"])
    return shown, len(figures) - shown


def _infos_of(
    db: Database, version_ids: list[int], locked: Sequence[LockedItem]
) -> list[ItemInfo]:
    """What the statistics need to know of each item the round asked: from its question-set
    versions (scales, areas, lineage), or counts only for a round opened without a set."""
    sets = []
    for version_id in version_ids:
        row, question_set = load_version_by_id(db, version_id)
        sets.append((question_set, row.lineage))
    asked = [item.key for item in locked]
    infos = item_infos(sets, asked) if sets else _plain_infos(locked)
    return infos + followup_infos(locked)


def _held_back(
    round_id: int,
    tree: Tree,
    members: dict[int, int],
    figures: RoundFigures,
    infos: list[ItemInfo],
    k: int,
    known: int,
) -> RoundFigures:
    """The figures with what the pinning audit refuses held back; the log says how many,
    never which or why (that would be a fact about answers)."""
    try:
        held = hold_back(
            tree.parent, members, figures, item_scales(infos), k, known, item_constructs(infos)
        )
    except HoldBackError as exc:
        # Never a unit, a measure or a count: why a figure would pin is a fact about answers.
        raise DisclosureAuditError(f"round {round_id}: {exc}; nothing was published") from exc
    if held.count:
        log.warning(
            "round %s: %s held back by the pinning audit; the rest of the round is published",
            round_id,
            "1 figure was" if held.count == 1 else f"{held.count} figures were",
        )
    return held.figures


def _store(db: Database, round_id: int, figures: RoundFigures) -> None:
    """The round's published figures, replacing any, with each unit's indices apart (trends
    read only those)."""
    with db.session() as session:
        session.execute(delete(RoundStatistic).where(col(RoundStatistic.round_id) == round_id))
        for unit, figure in figures.items():
            indices = {c: v["index"] for c, v in figure.get("constructs", {}).items()}
            session.add(
                RoundStatistic(
                    round_id=round_id,
                    unit_id=unit,
                    figures=as_stored(figure),
                    figures_version=FIGURES_VERSION,
                    indices=indices,
                )
            )


def _plain_infos(locked: Sequence[LockedItem]) -> list[ItemInfo]:
    """Rounds opened without a question set (ad hoc): counts only, no indices."""
    return [
        ItemInfo(item.key, item.key, "", "choice", tuple(item.options), None, None, frozenset())
        for item in locked
        if not item.text and item.followup is None
    ]


def _has_statistics(db: Database, round_id: int) -> bool:
    with db.session() as session:
        return (
            session.execute(
                select(RoundStatistic.unit_id).where(RoundStatistic.round_id == round_id).limit(1)
            ).first()
            is not None
        )


def _counts(db: Database, round_id: int) -> tuple[int, int]:
    with db.session() as session:
        figures = (
            session.execute(
                select(RoundStatistic.figures).where(RoundStatistic.round_id == round_id)
            )
            .scalars()
            .all()
        )
    shown = sum(1 for f in figures if f.get("shown"))
    return shown, len(figures) - shown


def _release_counts(db: Database, round_id: int) -> list[int]:
    with db.session() as session:
        return list(
            session.execute(
                select(RoundUnitCount.respondents).where(RoundUnitCount.round_id == round_id)
            ).scalars()
        )


def published(db: Database, round_ids: list[int]) -> dict[tuple[int, int], UnitFigure]:
    """Stored figures keyed by (round, unit)."""
    with db.session() as session:
        rows = session.execute(
            select(
                RoundStatistic.round_id,
                RoundStatistic.unit_id,
                RoundStatistic.figures,
                RoundStatistic.figures_version,
            ).where(col(RoundStatistic.round_id).in_(round_ids))
        ).all()
    return {(r, u): stored_figure(f, v) for r, u, f, v in rows}
