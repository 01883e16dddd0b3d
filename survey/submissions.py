"""From a finished check-in to an anonymous response (docs/privacy.md, P1-P3 and P5).

``submit`` seals the answers to the round's report public key and writes them into the round's
pool together with the member's participation mark, in one transaction: the caller may thank
the member only after it returns. ``release_round`` runs once at close: it shuffles the pool with
a cryptographic RNG, re-seals every answer with fresh randomness, moves the lot into ``response``
in a transaction of its own, destroys the pool, and reduces participation to per-unit counts.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Row,
    bindparam,
    delete,
    insert,
    or_,
    update,
)
from sqlalchemy import (
    select as core_select,  # more than four columns: SQLModel's select stops at four
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from survey.crypto import KeyRing, Sealer, SealingError, Unsealer, seal, seal_context
from survey.grouping import Tree, kept_answers, release_plan
from survey.questions import (
    AnswerValue,
    InvalidAnswersError,
    LockedItem,
    parse_items,
    validate_answers,
)
from survey.rounds import RoundError
from survey.storage import Database
from survey.storage.models import (
    Delivery,
    Member,
    Participation,
    PoolSubmission,
    Response,
    Role,
    RoundState,
    RoundStatistic,
    RoundUnitCount,
    SurveyRound,
    Unit,
)

PAYLOAD_VERSION = 1


log = logging.getLogger(__name__)


class SubmissionError(ValueError):
    """A check-in was not accepted; nothing was stored. The message is safe to show the member."""


class AlreadyAnsweredError(SubmissionError):
    pass


class NotEligibleError(SubmissionError):
    pass


class RoundNotOpenError(SubmissionError, RoundError):
    pass


class ReleaseError(RuntimeError):
    """A round could not be released; the transaction was rolled back and the pool is intact."""


@dataclass(frozen=True)
class ReleaseSummary:
    round_id: int
    respondents: int
    per_unit: dict[int, int]
    already_closed: bool = False
    #: False while the destroyed pool and participation rows are not verified gone (P2).
    scrubbed: bool = True


def encode_answers(answers: Mapping[str, AnswerValue]) -> bytes:
    """The plaintext that gets sealed: answers only, no time, no member, no order of answering."""
    return json.dumps(
        {"v": PAYLOAD_VERSION, "answers": dict(answers)}, sort_keys=True, separators=(",", ":")
    ).encode()


def decode_answers(plaintext: bytes) -> dict[str, AnswerValue]:
    data = json.loads(plaintext)
    if not isinstance(data, dict) or data.get("v") != PAYLOAD_VERSION:
        raise SealingError("unknown answer payload version")
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise SealingError("answer payload has no answers")
    return answers


@dataclass(frozen=True)
class SubmissionRequest:
    member_id: int
    round_id: int
    answers: object


def submit(
    db: Database,
    keys: KeyRing,
    *,
    member_id: int,
    round_id: int,
    answers: object,
    now: datetime | None = None,
) -> None:
    """Accept one finished check-in, or raise a ``SubmissionError`` and store nothing."""
    (outcome,) = submit_many(db, keys, [SubmissionRequest(member_id, round_id, answers)], now=now)
    if outcome is not None:
        raise outcome


def submit_many(
    db: Database,
    keys: KeyRing,
    requests: Sequence[SubmissionRequest],
    *,
    now: datetime | None = None,
) -> list[SubmissionError | None]:
    """Accept several check-ins in one transaction (group commit); one outcome per request.

    ``None`` means accepted and committed; an error means that request stored nothing and says
    why. One refused request never costs the others theirs. Sharing a commit is safe for privacy:
    pool rows are destroyed at release, and released rows share no transaction with them (P2).
    """
    now = now or datetime.now(UTC)
    try:
        return _submit_batch(db, keys, requests, now)
    except IntegrityError:
        # Another process won a race on one of these (member, round) pairs between our check and
        # our insert. Nothing of the batch was written; redo it one by one to find the loser.
        if len(requests) == 1:
            return [AlreadyAnsweredError("you have already answered this round")]
        return [submit_many(db, keys, [request], now=now)[0] for request in requests]


def _submit_batch(
    db: Database, keys: KeyRing, requests: Sequence[SubmissionRequest], now: datetime
) -> list[SubmissionError | None]:
    outcomes: list[SubmissionError | None] = []
    participation: list[dict[str, object]] = []
    pool: list[dict[str, object]] = []
    with db.transaction() as connection:
        context = _BatchContext.load(connection, requests)
        for request in requests:
            try:
                unit_id, sealed = _accept(context, keys, request, now)
            except SubmissionError as exc:
                outcomes.append(exc)
                continue
            pseudonym = context.members[request.member_id].pseudonym
            context.answered.add((request.round_id, pseudonym))
            participation.append({"round_id": request.round_id, "pseudonym": pseudonym})
            pool.append(
                {
                    "id": uuid.uuid4(),
                    "round_id": request.round_id,
                    "unit_id": unit_id,
                    "sealed": sealed,
                }
            )
            outcomes.append(None)
        if participation:
            connection.execute(_INSERT_PARTICIPATION, participation)
            connection.execute(_INSERT_POOL, pool)
    return outcomes


@dataclass
class _BatchContext:
    """Everything a batch needs to know, read in three queries whatever the batch size."""

    rounds: Mapping[int, Row[Any]]
    items: dict[int, tuple[LockedItem, ...]]
    members: Mapping[int, Row[int, int, str, str]]  # id, unit, role, pseudonym
    answered: set[tuple[int, int]]

    @classmethod
    def load(cls, connection: Connection, requests: Sequence[SubmissionRequest]) -> _BatchContext:
        ids = {
            "round_ids": sorted({r.round_id for r in requests}),
            "member_ids": sorted({r.member_id for r in requests}),
        }
        rounds = {row.id: row for row in connection.execute(_ROUNDS, ids)}
        members = {row.id: row for row in connection.execute(_MEMBERS, ids)}
        pseudonyms = sorted({row.pseudonym for row in members.values()})
        answered = {
            (row.round_id, row.pseudonym)
            for row in connection.execute(_ANSWERED, {**ids, "pseudonyms": pseudonyms})
        }
        items = {round_id: parse_items(row.items) for round_id, row in rounds.items()}
        return cls(rounds, items, members, answered)


# Built once: constructing a statement costs more than running it on the hot path.
_ROUND_IDS: BindParameter[list[int]] = bindparam("round_ids", expanding=True)
_MEMBER_IDS: BindParameter[list[int]] = bindparam("member_ids", expanding=True)
_ROUNDS = core_select(
    col(SurveyRound.id),
    col(SurveyRound.state),
    col(SurveyRound.opens_at),
    col(SurveyRound.closes_at),
    col(SurveyRound.items),
    col(SurveyRound.member_counts),
    col(SurveyRound.report_key_id),
).where(col(SurveyRound.id).in_(_ROUND_IDS))
_MEMBERS = select(Member.id, Member.unit_id, Member.role, Member.pseudonym).where(
    col(Member.id).in_(_MEMBER_IDS)
)
# By primary key (round, pseudonym): a lookup per member, not a scan of everyone who answered.
_ANSWERED = select(Participation.round_id, Participation.pseudonym).where(
    col(Participation.round_id).in_(_ROUND_IDS),
    col(Participation.pseudonym).in_(bindparam("pseudonyms", expanding=True)),
)
_INSERT_PARTICIPATION = insert(Participation)
_INSERT_POOL = insert(PoolSubmission)


def _accept(
    context: _BatchContext, keys: KeyRing, request: SubmissionRequest, now: datetime
) -> tuple[int, bytes]:
    """Check one request and seal its answers; returns (unit id, sealed payload)."""
    survey_round = context.rounds.get(request.round_id)
    if survey_round is None:
        raise RoundNotOpenError("this check-in round does not exist")
    if survey_round.state != RoundState.OPEN or not (
        survey_round.opens_at <= now < survey_round.closes_at
    ):
        raise RoundNotOpenError("this check-in round is closed")
    member = context.members.get(request.member_id)
    if member is None:
        raise NotEligibleError("you are not enrolled")
    if member.role != Role.WORKER:
        raise NotEligibleError("check-ins are answered by staff enrolled as workers")
    if str(member.unit_id) not in survey_round.member_counts:
        raise NotEligibleError("your unit is not part of this check-in round")
    if (request.round_id, member.pseudonym) in context.answered:
        raise AlreadyAnsweredError("you have already answered this round")
    try:
        clean = validate_answers(context.items[request.round_id], request.answers)
    except InvalidAnswersError as exc:
        raise SubmissionError(f"answers not accepted: {exc}") from exc
    for item in context.items[request.round_id]:
        if item.key in clean and not item.asks(member.unit_id):
            raise SubmissionError(f"answers not accepted: item {item.key!r} is not asked of you")
    sealed = seal(
        keys.report_public_key(survey_round.report_key_id),
        encode_answers(clean),
        seal_context(request.round_id, member.unit_id),
    )
    return member.unit_id, sealed


def release_round(
    db: Database,
    keys: KeyRing,
    round_id: int,
    *,
    now: datetime | None = None,
    chance: random.Random | None = None,
) -> ReleaseSummary:
    """Close a round: shuffle, re-seal and release its pool; destroy the pool and participation.

    Idempotent: releasing a closed round changes nothing and reports its stored counts.
    Needs the report private key of the round (P3), loaded before anything is touched.
    ``chance`` picks the answers a group's cap leaves out: the system's cryptographic generator,
    except in `pulse demo`, which passes a seeded one so that the same seed gives the same
    figures (the choice is made over the answers' contents, never their order of arrival).

    Long because it is one transaction: either the whole round is released and its pool destroyed,
    or nothing is; its steps are the functions below.
    """
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None:
            raise RoundError(f"round {round_id} does not exist")
        key_id = survey_round.report_key_id
    private_key = keys.report_private_key(key_id)
    unsealer = Unsealer(private_key)
    sealer = Sealer(private_key.public_key())  # fresh randomness, one exchange for the batch

    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id, with_for_update=True)
        assert survey_round is not None
        if survey_round.state == RoundState.CLOSED:
            counts = session.execute(
                select(RoundUnitCount.unit_id, RoundUnitCount.respondents).where(
                    RoundUnitCount.round_id == round_id
                )
            ).all()
            per_unit = {int(unit_id): int(n) for unit_id, n in counts}
            return ReleaseSummary(round_id, sum(per_unit.values()), per_unit, already_closed=True)

        pool = session.execute(
            select(PoolSubmission.id, PoolSubmission.unit_id, PoolSubmission.sealed).where(
                PoolSubmission.round_id == round_id
            )
        ).all()
        # The groups the answers may be reported under (survey.grouping), decided on the tree
        # as it is now, at close: each answer is stored under its group and nothing finer, and
        # answers that no group may publish (a unit too small, above a group's cap) go.
        scope = [int(u) for u in survey_round.member_counts]
        parents = dict(
            session.execute(select(Unit.id, Unit.parent_id).where(col(Unit.id).in_(scope))).all()
        )
        tree = Tree({u: (p if p in parents else None) for u, p in parents.items()})
        members = {int(u): n for u, n in survey_round.member_counts.items()}
        plan = release_plan(
            tree,
            members,
            Counter(unit for _, unit, _ in pool),
            survey_round.min_group_size,
            survey_round.known_others,
        )
        order = list(pool)
        secrets.SystemRandom().shuffle(order)
        opened = _unseal_all(unsealer, round_id, order)
        groups = kept_answers(
            plan,
            [(unit, str(pid)) for pid, unit, _ in pool],
            chance=chance or secrets.SystemRandom(),
            content={pid: plaintext for pid, (plaintext, _) in opened.items()},
        )
        # Questions asked of part of the scope only (a follow-up about one unit's action): an
        # answer stored under a wider group loses them, or they would tell its unit (P1).
        narrow = [item for item in parse_items(survey_round.items) if item.units is not None]
        rows = _resealed(sealer, round_id, order, opened, groups, narrow)
        if rows:
            session.execute(insert(Response), rows)
        per_unit = {
            unit: figure["respondents"] for unit, figure in plan.figures.items() if figure["shown"]
        }
        if per_unit:
            session.execute(
                insert(RoundUnitCount),
                [
                    {"round_id": round_id, "unit_id": unit_id, "respondents": n}
                    for unit_id, n in sorted(per_unit.items())
                ],
            )
        survey_round.publication = {str(unit): f for unit, f in plan.figures.items()}
        _forget_who_answered(session, round_id, scope)
        survey_round.state = RoundState.CLOSED
        survey_round.closed_at = now or datetime.now(UTC)
    scrubbed = scrub_round(db, round_id)
    return ReleaseSummary(round_id, len(rows), per_unit, scrubbed=scrubbed)


def _unseal_all(
    unsealer: Unsealer, round_id: int, order: Sequence[tuple[Any, int, bytes]]
) -> dict[str, tuple[bytes, dict[str, AnswerValue]]]:
    """Every pooled answer opened (in the shuffled order), or nothing released at all."""
    opened: dict[str, tuple[bytes, dict[str, AnswerValue]]] = {}
    for position, (pool_id, unit_id, sealed) in enumerate(order):
        try:
            plaintext = unsealer.unseal(sealed, seal_context(round_id, unit_id))
            opened[str(pool_id)] = (plaintext, decode_answers(plaintext))
        except (SealingError, ValueError) as exc:
            raise ReleaseError(
                f"round {round_id}: a pooled answer does not open ({exc}); nothing was "
                f"released (failed at {position + 1} of {len(order)})"
            ) from exc
    return opened


def _resealed(
    sealer: Sealer,
    round_id: int,
    order: Sequence[tuple[Any, int, bytes]],
    opened: dict[str, tuple[bytes, dict[str, AnswerValue]]],
    groups: Mapping[str, int],
    narrow: list[LockedItem],
) -> list[dict[str, Any]]:
    """The released rows, in the shuffled order: each kept answer re-sealed under its group,
    without the answers to questions its group was not asked as a whole (P1)."""
    rows = []
    for pool_id, _, _ in order:
        plaintext, answers = opened[str(pool_id)]
        group = groups.get(str(pool_id))
        if group is None:
            continue  # no group may publish it: it is destroyed with the pool
        dropped = [i.key for i in narrow if i.key in answers and group not in (i.units or ())]
        if dropped:
            for key in dropped:
                del answers[key]
            plaintext = encode_answers(answers)
        rows.append(
            {
                "id": uuid.uuid4(),
                "round_id": round_id,
                "unit_id": group,
                "sealed": sealer.seal(plaintext, seal_context(round_id, group)),
            }
        )
    return rows


def _forget_who_answered(session: Session, round_id: int, scope: list[int]) -> None:
    """Destroy the pool, who answered and who was reminded, leaving no trace in row headers."""
    # Row headers (P2): each delivery row's foreign-key check locked its member's row and
    # left its transaction id there (PostgreSQL's xmax): the invitation's on members who
    # answered, the reminder's on those who did not. One update of every member the round
    # reached gives them all this transaction's id instead, in their existing row order.
    reached = select(Delivery.member_id).where(col(Delivery.round_id) == round_id)
    session.execute(
        update(Member)
        .where(or_(col(Member.unit_id).in_(scope), col(Member.id).in_(reached)))
        .values(id=Member.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(PoolSubmission).where(col(PoolSubmission.round_id) == round_id))
    session.execute(delete(Participation).where(col(Participation.round_id) == round_id))
    # Reminder records would say who had not answered: they go with the participation.
    session.execute(delete(Delivery).where(col(Delivery.round_id) == round_id))


SCRUBBED_TABLES = ("pool_submission", "participation", "delivery")


def scrub_round(db: Database, round_id: int) -> bool:
    """Verify that the rows a close destroyed are gone; mark the round pending if not (P2)."""
    result = db.scrub_deleted(SCRUBBED_TABLES)
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is not None and survey_round.scrub_pending != (not result.clean):
            survey_round.scrub_pending = not result.clean
    if not result.clean:
        log.error(
            "round %s closed, but its destroyed rows are not verified gone: %s; retried on "
            "every tick",
            round_id,
            result.detail,
        )
    return result.clean


def retry_scrubs(db: Database) -> list[int]:
    """Scrub again for every round still pending; returns the rounds still pending."""
    with db.session() as session:
        pending = list(
            session.execute(
                select(SurveyRound.id).where(SurveyRound.scrub_pending == True)  # noqa: E712
            ).scalars()
        )
    return [round_id for round_id in pending if not scrub_round(db, round_id)]


@dataclass(frozen=True)
class Regrouped:
    round_id: int
    responses: int
    destroyed: int


def regroup_closed_rounds(db: Database, keys: KeyRing, apply: bool = False) -> list[Regrouped]:
    """Rounds closed before answers were released by group (their ``publication`` is empty):
    move each answer into the group its round was published under, and destroy answers that no
    published figure covers (P1). Needs the report private key. A dry run unless ``apply``.

    Long because it is one migration step per round, in one transaction each, read top to bottom.
    """
    with db.session() as session:
        rounds = session.execute(
            select(SurveyRound.id, SurveyRound.report_key_id).where(
                SurveyRound.state == RoundState.CLOSED,
                col(SurveyRound.publication).is_(None),
            )
        ).all()
    done = []
    for round_id, key_id in rounds:
        with db.session() as session:
            figures = {
                row.unit_id: row.figures
                for row in session.execute(
                    select(RoundStatistic).where(RoundStatistic.round_id == round_id)
                ).scalars()
            }
            if not figures:
                continue  # statistics first (`pulse close-round ID --recompute`)
            responses = session.execute(
                select(Response.id, Response.unit_id, Response.sealed).where(
                    Response.round_id == round_id
                )
            ).all()
            group = {unit: _published_group(unit, figures) for unit in figures}
            moved = [r for r in responses if group.get(r.unit_id) is not None]
            result = Regrouped(round_id, len(moved), len(responses) - len(moved))
            done.append(result)
            if not apply:
                continue
            private_key = keys.report_private_key(key_id)
            unsealer, sealer = Unsealer(private_key), Sealer(private_key.public_key())
            order = list(responses)
            secrets.SystemRandom().shuffle(order)
            for response_id, unit_id, sealed in order:
                target = group.get(unit_id)
                if target is None:
                    session.execute(delete(Response).where(col(Response.id) == response_id))
                    continue
                plaintext = unsealer.unseal(sealed, seal_context(round_id, unit_id))
                session.execute(
                    update(Response)
                    .where(col(Response.id) == response_id)
                    .values(
                        unit_id=target,
                        sealed=sealer.seal(plaintext, seal_context(round_id, target)),
                    )
                )
            session.execute(
                delete(RoundUnitCount).where(
                    RoundUnitCount.round_id == round_id,
                    col(RoundUnitCount.unit_id).not_in(
                        [u for u, f in figures.items() if f.get("shown")]
                    ),
                )
            )
            survey_round = session.get(SurveyRound, round_id)
            assert survey_round is not None
            survey_round.publication = {
                str(unit): {
                    key: value for key, value in figure.items() if key in _PARTICIPATION_KEYS
                }
                for unit, figure in figures.items()
            }
        if apply:
            db.scrub_deleted(("response",))
    return done


#: What of a round's stored figures is about who answered (``survey.grouping.release_plan``).
_PARTICIPATION_KEYS = frozenset(
    {"shown", "parent", "reason", "min_members", "respondents", "members", "respondents_at_least"}
)


def _published_group(unit: int, figures: Mapping[int, Mapping[str, Any]]) -> int | None:
    """The shown unit at or above ``unit`` in the tree stored with the round's figures."""
    current: int | None = unit
    seen = set()
    while current is not None and current in figures and current not in seen:
        seen.add(current)
        if figures[current].get("shown"):
            return current
        current = figures[current].get("parent")
    return None
