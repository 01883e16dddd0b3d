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
from survey.questions.store import (
    ImportResult,
    QuestionSetNotFoundError,
    activate_version,
    import_question_set,
    list_question_sets,
    load_version,
    load_version_by_id,
)

__all__ = [
    "AnswerValue",
    "ImportResult",
    "InvalidAnswersError",
    "LockedItem",
    "QuestionSet",
    "QuestionSetError",
    "QuestionSetNotFoundError",
    "activate_version",
    "dump_question_set",
    "import_question_set",
    "items_for_round",
    "list_question_sets",
    "load_question_set",
    "load_question_set_file",
    "load_version",
    "load_version_by_id",
    "parse_items",
    "validate_answers",
]
