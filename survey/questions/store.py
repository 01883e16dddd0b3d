"""Question-set versions in the database: import, activation, and trend lineage.

Importing a changed file adds a version; importing the same content again changes nothing.
Each item carries a lineage id: it stays the same from version to version only while the item
asks the same thing (same key, type, answers and labels, and either the same wording or an
explicit ``same_meaning: true``). Trends compare an item only within one lineage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from survey.i18n import Texts
from survey.questions.locked import parse_items
from survey.questions.model import Item, QuestionSet
from survey.storage import Database
from survey.storage.models import QuestionSetRecord, QuestionSetVersion


class QuestionSetNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class ImportResult:
    set_id: str
    version: int
    created: bool
    active: bool
    #: Items whose trend starts afresh in this version, with the reason.
    trend_breaks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetSummary:
    set_id: str
    title: str
    versions: int
    active_version: int | None


def import_question_set(
    db: Database, question_set: QuestionSet, *, activate: bool = True, now: datetime | None = None
) -> ImportResult:
    """Store ``question_set`` (already validated) as a new version unless nothing changed."""
    content = question_set.model_dump(mode="json", by_alias=True)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    with db.session() as session:
        record = session.get(QuestionSetRecord, question_set.id)
        if record is None:
            record = QuestionSetRecord(id=question_set.id)
            session.add(record)
            session.flush()
        latest = session.exec(
            select(QuestionSetVersion)
            .where(QuestionSetVersion.set_id == question_set.id)
            .order_by(col(QuestionSetVersion.version).desc())
        ).first()
        if latest is not None and latest.digest == digest:
            if activate:
                record.active_version = latest.version
            return ImportResult(
                question_set.id, latest.version, False, record.active_version == latest.version
            )
        version = 1 if latest is None else latest.version + 1
        previous = None if latest is None else QuestionSet.model_validate(latest.content)
        lineage, breaks = _lineage(
            question_set, version, previous, {} if latest is None else latest.lineage
        )
        session.add(
            QuestionSetVersion(
                set_id=question_set.id,
                version=version,
                digest=digest,
                content=content,
                lineage=lineage,
                created_at=now or datetime.now(UTC),
            )
        )
        if activate or record.active_version is None:
            record.active_version = version
        return ImportResult(
            question_set.id, version, True, record.active_version == version, breaks
        )


def activate_version(db: Database, set_id: str, version: int) -> None:
    with db.session() as session:
        record = session.get(QuestionSetRecord, set_id)
        exists = session.exec(
            select(QuestionSetVersion.id).where(
                QuestionSetVersion.set_id == set_id, QuestionSetVersion.version == version
            )
        ).first()
        if record is None or exists is None:
            raise QuestionSetNotFoundError(f"question set {set_id!r} has no version {version}")
        record.active_version = version


def list_question_sets(db: Database) -> list[SetSummary]:
    with db.session() as session:
        counts = dict(
            session.exec(
                select(QuestionSetVersion.set_id, func.count()).group_by(
                    col(QuestionSetVersion.set_id)
                )
            ).all()
        )
        summaries = []
        for record in session.exec(select(QuestionSetRecord).order_by(col(QuestionSetRecord.id))):
            title = ""
            if record.active_version is not None:
                version = _version_row(session, record.id, record.active_version)
                title = version.content["title"].get("sv") or next(
                    iter(version.content["title"].values())
                )
            summaries.append(
                SetSummary(record.id, title, counts.get(record.id, 0), record.active_version)
            )
        return summaries


def load_version(
    db: Database, set_id: str, version: int | None = None
) -> tuple[QuestionSetVersion, QuestionSet]:
    """A stored version (default: the active one) with its parsed set."""
    with db.session() as session:
        record = session.get(QuestionSetRecord, set_id)
        if record is None:
            raise QuestionSetNotFoundError(
                f"no question set {set_id!r} (see `pulse questions list`)"
            )
        wanted = version if version is not None else record.active_version
        if wanted is None:
            raise QuestionSetNotFoundError(f"question set {set_id!r} has no active version")
        row = _version_row(session, set_id, wanted)
        return row, QuestionSet.model_validate(row.content)


def load_version_by_id(db: Database, version_id: int) -> tuple[QuestionSetVersion, QuestionSet]:
    with db.session() as session:
        row = session.get(QuestionSetVersion, version_id)
        if row is None:
            raise QuestionSetNotFoundError(f"no question set version with id {version_id}")
        return row, QuestionSet.model_validate(row.content)


def _version_row(session: Session, set_id: str, version: int) -> QuestionSetVersion:
    row = session.exec(
        select(QuestionSetVersion).where(
            QuestionSetVersion.set_id == set_id, QuestionSetVersion.version == version
        )
    ).first()
    if row is None:
        raise QuestionSetNotFoundError(f"question set {set_id!r} has no version {version}")
    return row


def _lineage(
    new: QuestionSet, version: int, previous: QuestionSet | None, previous_lineage: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    lineage: dict[str, str] = {}
    breaks: dict[str, str] = {}
    for item in new.items:
        fresh = f"{new.id}/{item.key}/v{version}"
        if previous is None:
            lineage[item.key] = fresh
            continue
        try:
            old = previous.item(item.key)
        except KeyError:
            lineage[item.key] = fresh
            continue
        reason = _why_not_comparable(previous, old, new, item)
        if reason is None and item.key in previous_lineage:
            lineage[item.key] = previous_lineage[item.key]
        else:
            lineage[item.key] = fresh
            breaks[item.key] = reason or "new item"
    return lineage, breaks


def _why_not_comparable(
    old_set: QuestionSet, old: Item, new_set: QuestionSet, new: Item
) -> str | None:
    if old.type != new.type:
        return f"type changed from {old.type} to {new.type}"
    if old_set.answer_values(old) != new_set.answer_values(new):
        return "answers changed"
    for language in set(old_set.languages) & set(new_set.languages):
        if old_set.answer_labels(old, language) != new_set.answer_labels(new, language):
            return f"answer labels changed ({language})"
    if old.direction != new.direction:
        return "scoring direction changed"
    if old.text != new.text and not new.same_meaning:
        return "wording changed without 'same_meaning: true'"
    return None


def round_questions(
    db: Database, items: list[dict], language: str
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(key, question, option labels) of a round's locked items in ``language``, from the
    question-set versions the round locked; items of ad-hoc rounds show their key and values."""
    sets: dict[int, QuestionSet] = {}
    shown = []
    for item in parse_items(items):
        question_set = None
        if item.version_id is not None:
            if item.version_id not in sets:
                _, sets[item.version_id] = load_version_by_id(db, item.version_id)
            question_set = sets[item.version_id]
        if item.followup is not None:
            shown.append((item.key, *followup_question(item.followup, language)))
            continue
        if question_set is None:
            shown.append((item.key, item.key, tuple(str(o) for o in item.options)))
            continue
        source = question_set.item(item.key)
        lang = language if language in question_set.languages else question_set.languages[0]
        shown.append((item.key, source.text[lang], tuple(question_set.answer_labels(source, lang))))
    return shown


def followup_question(action: str, language: str) -> tuple[str, tuple[str, ...]]:
    """The follow-up question about an action, and its five answers, in ``language``."""
    t = Texts(language)
    question = t._("Has “{action}” made a difference to your work situation?").format(action=action)
    labels = (
        t._("No difference"),
        t._("A little"),
        t._("Some"),
        t._("Clearly"),
        t._("A great difference"),
    )
    return question, labels
