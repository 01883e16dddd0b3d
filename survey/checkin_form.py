"""The check-in as every surface shows it: a round's questions for one member, and what a member
who opens a check-in is told (answer, already answered, closed).

The chat buttons (bot/) and the Mini App page (web/) both take their questions and their verdicts
from here, so that a question the chat would not ask is not asked on the page either, and an
answer the chat could not give is refused from the page too. Sending goes through the one intake
(survey.intake: sealing, one answer per round, the participation mark).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from survey.crypto import KeyRing
from survey.lifecycle import member_and_round, open_round_for
from survey.questions import AnswerValue, LockedItem, parse_items
from survey.questions.store import round_questions
from survey.storage import Database
from survey.storage.models import Member, Role, SurveyRound
from survey.submissions import SubmissionError


@dataclass(frozen=True)
class AskedItem:
    """What a member sees of one item: the question and the option labels in their language."""

    item: LockedItem
    text: str
    labels: tuple[str, ...]


def round_form(db: Database, survey_round: SurveyRound, language: str) -> list[AskedItem]:
    """Every item of a round that is answered by choosing an option, in ``language``. A round's
    items are locked when it opens (P7), so callers may keep this for the round's life. Free
    text is answered by typing in the chat, not by choosing: not part of the form."""
    questions = round_questions(db, survey_round.items, language)
    return [
        AskedItem(item, text, labels)
        for item, (_, text, labels) in zip(parse_items(survey_round.items), questions, strict=True)
        if not item.text
    ]


def asked_of(form: list[AskedItem], unit_id: int) -> list[AskedItem]:
    """The items a member of ``unit_id`` is asked: a follow-up only in the units of its action."""
    return [asked for asked in form if asked.item.asks(unit_id)]


def chosen_answers(form: list[AskedItem], chosen: object) -> dict[str, AnswerValue]:
    """The answers as survey/ stores them, from the options a member chose: item key -> the
    0-based index of the option, or None for a skipped item. Anything else (an item not on the
    form, an index out of range, a value of another type) is refused whole, with a message
    safe to show; required items and "at least one answer" are the intake's to check."""
    if not isinstance(chosen, Mapping):
        raise SubmissionError("answers not accepted: expected item keys and option numbers")
    by_key = {asked.item.key: asked for asked in form}
    answers: dict[str, AnswerValue] = {}
    for key, index in chosen.items():
        asked = by_key.get(key) if isinstance(key, str) else None
        if asked is None:
            raise SubmissionError("answers not accepted: a question that was not asked")
        if index is None:
            continue
        if isinstance(index, bool) or not isinstance(index, int):
            raise SubmissionError("answers not accepted: an option must be given by its number")
        if not 0 <= index < len(asked.item.options):
            raise SubmissionError("answers not accepted: an option that does not exist")
        answers[key] = asked.item.options[index]
    if not answers:
        raise SubmissionError("answers not accepted: every question was skipped")
    return answers


class Verdict(StrEnum):
    """What a member who opens a check-in is told, before any question."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"
    NOT_ENROLLED = "not_enrolled"
    NOT_A_WORKER = "not_a_worker"


@dataclass(frozen=True)
class Opening:
    verdict: Verdict
    member: Member | None = None
    round: SurveyRound | None = None


def open_checkin(
    db: Database, keys: KeyRing, telegram_user_id: int, round_id: int | None, now: datetime
) -> Opening:
    """Whether the member behind ``telegram_user_id`` may answer round ``round_id`` now (or, for
    None, the round open for them now). A closed round is "closed" even when another one is
    open: an old invitation must not silently answer a newer round."""
    press = member_and_round(db, keys, telegram_user_id, round_id)
    member = press.member
    if member is None:
        return Opening(Verdict.NOT_ENROLLED)
    if member.role != Role.WORKER:
        return Opening(Verdict.NOT_A_WORKER, member)
    survey_round = press.round
    if round_id is None:
        survey_round = open_round_for(db, member, now)
        if survey_round is not None:
            press = member_and_round(db, keys, telegram_user_id, survey_round.id)
    if (
        survey_round is None
        or not press.round_is_open(now)
        or str(member.unit_id) not in survey_round.member_counts
    ):
        return Opening(Verdict.CLOSED, member, survey_round)
    if press.answered:
        return Opening(Verdict.ANSWERED, member, survey_round)
    return Opening(Verdict.OPEN, member, survey_round)
