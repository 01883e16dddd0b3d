"""Actions: what a unit's manager does about a finding, and how it is followed up.

The cycle AFS 2023:1 asks for - investigate, assess, act, follow up - in data: an action
answers a construct or an alert of a unit, has an owner, a due date and a status; the manager
gets one reminder when it is overdue; safety representatives comment; once it is done, the
unit's next check-in asks whether it made a difference (``followup_items``), under the same k
rules as every other question. Nothing here holds an answer or a worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from survey.claims import results_sent
from survey.enrolment import subtree_ids
from survey.phrases import N_, Phrase, phrase
from survey.roles import ACTORS
from survey.storage import Database
from survey.storage.models import (
    Action,
    ActionComment,
    ActionReminder,
    ActionStatus,
    Member,
    MemberStatus,
    Role,
    RoundNote,
    Unit,
)

TITLE_MAX = 200
OWNER_MAX = 120
COMMENT_MAX = 1000
NOTE_MAX = 1000
#: The follow-up question's answers: 1 (no difference) to 5 (a great difference).
FOLLOWUP_OPTIONS = (1, 2, 3, 4, 5)
FOLLOWUP_PREFIX = "followup_"


class ActionError(ValueError):
    """An action cannot be recorded or changed as asked; ``problem`` says why, translatable."""

    def __init__(self, problem: Phrase) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass(frozen=True)
class ActionView:
    """An action as listed: with its unit's name and its comments, oldest first."""

    action: Action
    unit_name: str
    comments: tuple[ActionComment, ...]


#: What each free-text field needs, for the message when it is empty or too long.
_FIELDS = {
    "title": (TITLE_MAX, N_("Say what will be done."), N_("The description is too long.")),
    "owner": (OWNER_MAX, N_("Say who owns the action."), N_("The owner is too long.")),
    "comment": (COMMENT_MAX, N_("The comment is empty."), N_("The comment is too long.")),
    "note": (NOTE_MAX, N_("The note is empty."), N_("The note is too long.")),
}


def checked_text(field: str, text: str) -> str:
    """A manager's words for ``field`` ("title", "owner", "comment", "note"), tidied; raises
    ``ActionError`` saying what is wrong (the bot checks each answer as it is typed)."""
    return _clean(text, field)


def _clean(text: str, field: str) -> str:
    most, empty, too_long = _FIELDS[field]
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ActionError(phrase(empty))
    if len(cleaned) > most:
        raise ActionError(
            phrase(N_("{problem} At most {n} characters."), problem=phrase(too_long), n=most)
        )
    return cleaned


def record_action(
    db: Database,
    *,
    unit_id: int,
    title: str,
    owner: str,
    due_on: date,
    today: date,
    construct: str | None = None,
    item: str | None = None,
    created_by: int | None = None,
    scope: set[int] | None = None,
) -> Action:
    """Record a planned action of a unit; the title and owner are the manager's own words.
    ``scope``: the units the recorder was granted (None: an operator, every unit)."""
    title = _clean(title, "title")
    owner = _clean(owner, "owner")
    if due_on < today:
        raise ActionError(phrase(N_("The due date has passed; choose a later one.")))
    if scope is not None and unit_id not in scope:
        raise ActionError(
            phrase(N_("You can see only the units you were given access to. /units lists them."))
        )
    with db.session() as session:
        if session.get(Unit, unit_id) is None:
            raise ActionError(phrase(N_("There is no unit {id}."), id=unit_id))
        action = Action(
            unit_id=unit_id,
            title=title,
            owner=owner,
            due_on=due_on,
            construct_key=construct,
            item=item,
            created_on=today,
            created_by=created_by,
        )
        session.add(action)
        session.flush()
        session.refresh(action)
        session.expunge(action)
    return action


def _granted(session: Session, action_id: int, scope: set[int]) -> Action:
    action = session.get(Action, action_id)
    # One answer for "no such action" and "not yours", so ids outside the grant say nothing.
    if action is None or action.unit_id not in scope:
        raise ActionError(phrase(N_("There is no such action among your units.")))
    return action


def set_action_status(
    db: Database, action_id: int, status: ActionStatus, *, scope: set[int], today: date
) -> Action:
    """Move an action on; done records the day (it starts the follow-up question)."""
    with db.session() as session:
        action = _granted(session, action_id, scope)
        if action.status == ActionStatus.DONE and status != ActionStatus.DONE:
            if action.followup_round_id is not None:
                raise ActionError(
                    phrase(N_("Its follow-up question has been asked; it stays done."))
                )
            action.done_on = None
        if status == ActionStatus.DONE and action.status != ActionStatus.DONE:
            action.done_on = today
        action.status = status
        session.flush()
        session.expunge(action)
    return action


def add_comment(
    db: Database, action_id: int, *, role: Role, text: str, scope: set[int], today: date
) -> ActionComment:
    with db.session() as session:
        _granted(session, action_id, scope)
        comment = ActionComment(
            action_id=action_id,
            author_role=role,
            text=_clean(text, "comment"),
            written_on=today,
        )
        session.add(comment)
        session.flush()
        session.refresh(comment)
        session.expunge(comment)
    return comment


def list_actions(
    db: Database,
    scope: Iterable[int] | None = None,
    *,
    overdue_on: date | None = None,
    open_only: bool = False,
) -> list[ActionView]:
    """Actions of the units in ``scope`` (all units: None), the nearest due date first; with
    ``overdue_on``, only those past due and not done on that day."""
    with db.session() as session:
        query = select(Action).order_by(col(Action.due_on), col(Action.id))
        if scope is not None:
            query = query.where(col(Action.unit_id).in_(list(scope)))
        if overdue_on is not None:
            query = query.where(Action.status != ActionStatus.DONE, col(Action.due_on) < overdue_on)
        elif open_only:
            query = query.where(Action.status != ActionStatus.DONE)
        actions = session.exec(query).all()
        ids = [a.id for a in actions]
        comments: dict[int, list[ActionComment]] = {}
        for comment in session.exec(
            select(ActionComment)
            .where(col(ActionComment.action_id).in_(ids))
            .order_by(col(ActionComment.id))
        ).all():
            comments.setdefault(comment.action_id, []).append(comment)
        names = dict(session.exec(select(Unit.id, Unit.name)).all())
        for row in [*actions, *(c for cs in comments.values() for c in cs)]:
            session.expunge(row)
    return [
        ActionView(a, names.get(a.unit_id, "?"), tuple(comments.get(a.id, ()))) for a in actions
    ]


@dataclass(frozen=True)
class OverdueReminder:
    action: Action
    unit_name: str
    #: The manager who recorded it, or (if they left) the unit's managers.
    manager_ids: tuple[int, ...]


def overdue_reminders(db: Database, today: date) -> list[OverdueReminder]:
    """Overdue actions whose reminder has not reached every recipient yet, each with the
    recipients still to remind."""
    due = [view for view in list_actions(db, overdue_on=today) if not view.action.overdue_reminded]
    reminders = []
    with db.session() as session:
        for view in due:
            action = view.action
            recorder = session.get(Member, action.created_by) if action.created_by else None
            if recorder is not None and recorder.status == MemberStatus.ACTIVE:
                ids: tuple[int, ...] = (recorder.id,)
            else:
                ids = tuple(
                    session.exec(
                        select(Member.id).where(
                            Member.unit_id == action.unit_id,
                            Member.role == Role.MANAGER,
                            Member.status == MemberStatus.ACTIVE,
                        )
                    ).all()
                )
            reminded = set(
                session.exec(
                    select(ActionReminder.member_id).where(ActionReminder.action_id == action.id)
                ).all()
            )
            reminders.append(
                OverdueReminder(action, view.unit_name, tuple(i for i in ids if i not in reminded))
            )
    return reminders


def mark_overdue_reminded(db: Database, action_id: int) -> None:
    """Every recipient has had the action's reminder: it is not looked at again."""
    with db.session() as session:
        action = session.get(Action, action_id)
        if action is not None:
            action.overdue_reminded = True


# --- the follow-up question ----------------------------------------------------------------------


def followup_key(action_id: int) -> str:
    return f"{FOLLOWUP_PREFIX}{action_id}"


def followup_items(
    session: Session, unit_id: int, room: int
) -> list[tuple[Action, dict[str, Any]]]:
    """Follow-up questions a new round of ``unit_id``'s sub-tree asks: one per action done and
    not yet followed up, the earliest done first, at most ``room`` (the check-in's item limit).

    Each is asked only of the action's unit and its sub-units (``units``); at release, answers
    stored under a group wider than that lose it (``survey.submissions``), so no stored answer
    says more about where it came from than its group.
    """
    if room <= 0:
        return []
    covered = set(subtree_ids(session, unit_id))
    done = session.exec(
        select(Action)
        .where(
            Action.status == ActionStatus.DONE,
            col(Action.followup_round_id).is_(None),
            col(Action.unit_id).in_(covered),
        )
        .order_by(col(Action.done_on), col(Action.id))
    ).all()[:room]
    return [
        (
            action,
            {
                "key": followup_key(action.id),
                "options": list(FOLLOWUP_OPTIONS),
                "required": False,
                "followup": action.title,
                "units": sorted(subtree_ids(session, action.unit_id)),
            },
        )
        for action in done
    ]


# --- the manager's note to the workers -----------------------------------------------------------


class NotYoursError(ActionError, PermissionError):
    """The change belongs to someone else's role or unit (a page answers 403)."""


class NoteTooLateError(ActionError):
    """The round's results have started going out: a note would reach only some workers."""


def write_note(db: Database, *, writer: Member, unit_id: int, round_id: int, text: str) -> None:
    """The note of a unit's own manager (or an admin of that unit) for a round's results, while
    they have not started going out (the chat's /note and the dashboard alike)."""
    if writer.role not in ACTORS or writer.unit_id != unit_id:
        raise NotYoursError(phrase(N_("Only the unit's own manager writes its note.")))
    if results_sent(db, round_id):
        raise NoteTooLateError(
            phrase(
                N_(
                    "The results have already gone out. Write your note when the next round "
                    "has closed; you get its report then."
                )
            )
        )
    set_note(db, round_id, unit_id, text)


def set_note(db: Database, round_id: int, unit_id: int, text: str) -> None:
    """The note that goes to the unit's workers with this round's results (replaces one)."""
    cleaned = _clean(text, "note")
    with db.session() as session:
        note = session.get(RoundNote, (round_id, unit_id))
        if note is None:
            session.add(RoundNote(round_id=round_id, unit_id=unit_id, text=cleaned))
        else:
            note.text = cleaned
