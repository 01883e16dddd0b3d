"""Question sets: the YAML format, loading with clear errors, rotation, and a round's lock."""

from survey.questions.loader import (
    QuestionSetError,
    dump_question_set,
    load_question_set,
    load_question_set_file,
)
from survey.questions.locked import (
    AnswerValue,
    InvalidAnswersError,
    LockedItem,
    parse_items,
    validate_answers,
)
from survey.questions.model import QuestionSet, items_for_round

__all__ = [
    "AnswerValue",
    "InvalidAnswersError",
    "LockedItem",
    "QuestionSet",
    "QuestionSetError",
    "dump_question_set",
    "items_for_round",
    "load_question_set",
    "load_question_set_file",
    "parse_items",
    "validate_answers",
]
