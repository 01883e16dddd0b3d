"""From a finished check-in to an anonymous response (ARCHITECTURE.md P1-P3, P5).

``submit`` seals the answers to the round's report public key and writes them into the round's
pool together with the member's participation mark, in one transaction: the caller may thank
the member only after it returns. ``release_round`` runs once at close: it shuffles the pool with
a cryptographic RNG, re-seals every answer with fresh randomness, moves the lot into ``response``
in a transaction of its own, destroys the pool, and reduces participation to per-unit counts.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from survey.crypto import KeyRing, SealingError, seal, seal_context, unseal
from survey.questions import AnswerValue, InvalidAnswersError, parse_items, validate_answers
from survey.rounds import RoundError
from survey.storage import Database
from survey.storage.models import (
    Member,
    Participation,
    PoolSubmission,
    Response,
    Role,
    RoundState,
    RoundUnitCount,
    SurveyRound,
)

PAYLOAD_VERSION = 1


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
    now = now or datetime.now(UTC)
    try:
        with db.session() as session:
            survey_round = session.get(SurveyRound, round_id)
            if survey_round is None:
                raise RoundNotOpenError("this check-in round does not exist")
            if survey_round.state != RoundState.OPEN or not (
                survey_round.opens_at <= now < survey_round.closes_at
            ):
                raise RoundNotOpenError("this check-in round is closed")
            member = session.get(Member, member_id)
            if member is None:
                raise NotEligibleError("you are not enrolled")
            if member.role != Role.WORKER:
                raise NotEligibleError("check-ins are answered by staff enrolled as workers")
            if str(member.unit_id) not in survey_round.member_counts:
                raise NotEligibleError("your unit is not part of this check-in round")
            if session.get(Participation, (round_id, member_id)) is not None:
                raise AlreadyAnsweredError("you have already answered this round")
            clean = validate_answers(parse_items(survey_round.items), answers)
            public_key = keys.report_public_key(survey_round.report_key_id)
            sealed = seal(
                public_key, encode_answers(clean), seal_context(round_id, member.unit_id)
            )
            session.add(Participation(round_id=round_id, member_id=member_id))
            session.add(
                PoolSubmission(
                    id=uuid.uuid4(), round_id=round_id, unit_id=member.unit_id, sealed=sealed
                )
            )
            session.flush()
    except IntegrityError as exc:
        # A concurrent double tap that passed the check above: the primary key caught it.
        raise AlreadyAnsweredError("you have already answered this round") from exc
    except InvalidAnswersError as exc:
        raise SubmissionError(f"answers not accepted: {exc}") from exc


def release_round(db: Database, keys: KeyRing, round_id: int) -> ReleaseSummary:
    """Close a round: shuffle, re-seal and release its pool; destroy the pool and participation.

    Idempotent: releasing a closed round changes nothing and reports its stored counts.
    Needs the report private key of the round (P3), loaded before anything is touched.
    """
    with db.session() as session:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None:
            raise RoundError(f"round {round_id} does not exist")
        key_id = survey_round.report_key_id
    private_key = keys.report_private_key(key_id)
    public_key = private_key.public_key()

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
            select(PoolSubmission.unit_id, PoolSubmission.sealed).where(
                PoolSubmission.round_id == round_id
            )
        ).all()
        order = list(pool)
        secrets.SystemRandom().shuffle(order)
        rows = []
        for position, (unit_id, sealed) in enumerate(order):
            context = seal_context(round_id, unit_id)
            try:
                plaintext = unseal(private_key, sealed, context)
                decode_answers(plaintext)
            except (SealingError, ValueError) as exc:
                raise ReleaseError(
                    f"round {round_id}: a pooled answer does not open ({exc}); nothing was "
                    f"released (failed at {position + 1} of {len(order)})"
                ) from exc
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "round_id": round_id,
                    "unit_id": unit_id,
                    "sealed": seal(public_key, plaintext, context),
                }
            )
        if rows:
            session.execute(insert(Response), rows)
        per_unit = dict(Counter(unit_id for unit_id, _ in order))
        if per_unit:
            session.execute(
                insert(RoundUnitCount),
                [
                    {"round_id": round_id, "unit_id": unit_id, "respondents": n}
                    for unit_id, n in sorted(per_unit.items())
                ],
            )
        session.execute(delete(PoolSubmission).where(PoolSubmission.round_id == round_id))
        session.execute(delete(Participation).where(Participation.round_id == round_id))
        survey_round.state = RoundState.CLOSED
    db.scrub_deleted(("pool_submission", "participation"))
    return ReleaseSummary(round_id, len(order), per_unit)
