"""Units and members: who belongs where, found by pseudonym and reached by encrypted chat id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from survey.crypto import KeyRing
from survey.grouping import Tree, rolled_up, suppress
from survey.settings import SUPPORTED_LANGUAGES
from survey.storage import Database
from survey.storage.models import Member, MemberStatus, Role, Unit


class EnrolmentError(ValueError):
    """A unit or member request that cannot be carried out; the message says why."""


class AlreadyEnrolledError(EnrolmentError):
    pass


#: Long enough for "Barn- och ungdomsenheten, mottagning och utredning"; short enough for every
#: Telegram message, chart label and terminal line that shows it.
MAX_UNIT_NAME = 100


def unit_name(name: str) -> str:
    """A unit name as given, trimmed; refused when empty, too long or holding control
    characters (a name is shown in terminals, charts and chats)."""
    name = name.strip()
    if not name:
        raise EnrolmentError("a unit needs a name")
    if len(name) > MAX_UNIT_NAME:
        raise EnrolmentError(
            f"a unit name may be at most {MAX_UNIT_NAME} characters (this one has {len(name)})"
        )
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise EnrolmentError("a unit name may not contain control characters")
    return name


def create_unit(db: Database, name: str, parent_id: int | None = None, kind: str = "enhet") -> Unit:
    name = unit_name(name)
    with db.session() as session:
        if parent_id is not None and session.get(Unit, parent_id) is None:
            raise EnrolmentError(f"parent unit {parent_id} does not exist")
        unit = Unit(name=name, parent_id=parent_id, kind=kind)
        session.add(unit)
        session.flush()
        return unit


def rename_unit(db: Database, unit_id: int, name: str) -> Unit:
    name = unit_name(name)
    with db.session() as session:
        unit = _unit(session, unit_id)
        unit.name = name
        return unit


def move_unit(db: Database, unit_id: int, new_parent_id: int | None) -> Unit:
    """Re-attach a unit (with its sub-tree) elsewhere; refuses to make the tree a loop."""
    with db.session() as session:
        unit = _unit(session, unit_id)
        if new_parent_id is not None:
            parent = _unit(session, new_parent_id)
            if parent.archived:
                raise EnrolmentError(f"unit {new_parent_id} is archived")
            if new_parent_id in subtree_ids(session, unit_id):
                raise EnrolmentError("a unit cannot move under itself or one of its sub-units")
        unit.parent_id = new_parent_id
        return unit


def archive_unit(db: Database, unit_id: int) -> Unit:
    """Archive a unit that no longer has members or active sub-units; its history stays."""
    with db.session() as session:
        unit = _unit(session, unit_id)
        members = session.exec(
            select(func.count()).select_from(Member).where(Member.unit_id == unit_id)
        ).one()
        if members:
            raise EnrolmentError(
                f"unit {unit_id} still has members: move them (or let them leave) first"
            )
        active_children = session.exec(
            select(func.count())
            .select_from(Unit)
            .where(Unit.parent_id == unit_id, Unit.archived == False)  # noqa: E712
        ).one()
        if active_children:
            raise EnrolmentError(f"unit {unit_id} has active sub-units: archive or move them first")
        unit.archived = True
        return unit


@dataclass(frozen=True)
class UnitNode:
    unit: Unit
    depth: int
    #: Workers in the unit and every unit below it; None where that could not be shown without
    #: letting a count below k be worked out, by itself or by subtracting shown counts (P6).
    members: int | None
    #: Why not shown: fewer than k in it, or a smaller group beside it would be revealed.
    too_few: bool = False


def unit_tree(db: Database, min_group_size: int, include_archived: bool = False) -> list[UnitNode]:
    """The tree in display order (depth-first), with each unit's workers counted with those of
    its sub-units, shown only where every count and every difference of counts is 0 or >= k."""
    with db.session() as session:
        units = session.exec(select(Unit).order_by(col(Unit.name))).all()
        counts = dict(
            session.exec(
                select(Member.unit_id, func.count())
                .where(Member.role == Role.WORKER)
                .group_by(col(Member.unit_id))
            ).all()
        )
    listed = [unit for unit in units if include_archived or not unit.archived]
    tree = Tree({unit.id: unit.parent_id for unit in units})
    totals = rolled_up(tree, counts)
    shown = suppress(tree, totals, min_group_size)
    children: dict[int | None, list[Unit]] = {}
    for unit in listed:
        children.setdefault(unit.parent_id, []).append(unit)
    nodes: list[UnitNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in children.get(parent, []):
            total = totals[unit.id]
            if unit.id in shown:
                nodes.append(UnitNode(unit, depth, total))
            else:
                nodes.append(UnitNode(unit, depth, None, too_few=total < min_group_size))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return nodes


def units_named(db: Database, text: str, within: set[int]) -> list[Unit]:
    """Units among ``within`` that ``text`` names: the one whose name it is (case and extra
    spaces aside), else every unit whose name contains it. Units outside ``within`` are never
    matched, so a name cannot be used to probe what exists beyond a grant."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        return []
    with db.session() as session:
        units = [
            unit
            for unit in session.exec(select(Unit).where(col(Unit.id).in_(within))).all()
            if not unit.archived
        ]
    exact = [unit for unit in units if " ".join(unit.name.split()).casefold() == wanted]
    if exact:
        return exact
    return sorted(
        (unit for unit in units if wanted in unit.name.casefold()), key=lambda unit: unit.name
    )


def _unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise EnrolmentError(f"unit {unit_id} does not exist (see `pulse units list`)")
    return unit


def subtree_ids(session: Session, root_id: int) -> list[int]:
    """The unit and all units below it (breadth-first), archived ones included."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in session.exec(select(Unit.id, Unit.parent_id)).all():
        children.setdefault(parent_id, []).append(unit_id)
    found, frontier = [root_id], [root_id]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found.extend(frontier)
    return found


def enrol_member(
    db: Database,
    keys: KeyRing,
    *,
    telegram_user_id: int,
    chat_id: int,
    unit_id: int,
    role: Role = Role.WORKER,
    language: str = "sv",
) -> Member:
    """Add a member; only the keyed pseudonym and the encrypted chat id are stored (P4)."""
    if language not in SUPPORTED_LANGUAGES:
        raise EnrolmentError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    pseudonym = keys.pseudonymizer().pseudonym(telegram_user_id)
    sealed_chat = keys.chat_id_cipher().encrypt(chat_id, pseudonym)
    with db.session() as session:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.archived:
            raise EnrolmentError(f"unit {unit_id} does not exist or is archived")
        if session.exec(select(Member.id).where(Member.pseudonym == pseudonym)).first():
            raise AlreadyEnrolledError("you are already enrolled")
        member = Member(
            pseudonym=pseudonym,
            chat_id_sealed=sealed_chat,
            role=role,
            unit_id=unit_id,
            language=language,
        )
        session.add(member)
        session.flush()
        return member


def find_member(db: Database, keys: KeyRing, telegram_user_id: int) -> Member | None:
    pseudonym = keys.pseudonymizer().pseudonym(telegram_user_id)
    with db.session() as session:
        return session.exec(select(Member).where(Member.pseudonym == pseudonym)).first()


def member_chat_id(keys: KeyRing, member: Member) -> int:
    return keys.chat_id_cipher().decrypt(member.chat_id_sealed, member.pseudonym)


def move_member(db: Database, member_id: int, unit_id: int) -> None:
    """An admin action: the member answers for the new unit from the next check-in on."""
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is None:
            raise EnrolmentError("no such member")
        unit = _unit(session, unit_id)
        if unit.archived:
            raise EnrolmentError(f"unit {unit_id} is archived")
        member.unit_id = unit_id


def scope_of(db: Database, member: Member) -> set[int]:
    """Units a manager or admin may see: their unit and everything below it (P8)."""
    if member.role == Role.WORKER:
        return set()
    with db.session() as session:
        return set(subtree_ids(session, member.unit_id))


def set_status(db: Database, member_id: int, status: MemberStatus) -> None:
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is None:
            raise EnrolmentError("no such member")
        member.status = status


def leave(db: Database, member_id: int) -> None:
    """Delete the member row; their sealed answers stay, tied to no one."""
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is not None:
            session.delete(member)


def member_counts(session: Session, unit_ids: Iterable[int]) -> dict[str, int]:
    """Workers per unit (active or paused), keyed by unit id as text for JSON storage."""
    ids = list(unit_ids)
    rows = session.exec(
        select(Member.unit_id, func.count())
        .where(col(Member.unit_id).in_(ids))
        .where(Member.role == Role.WORKER)
        .where(Member.status != MemberStatus.UNREACHABLE)
        .group_by(col(Member.unit_id))
    ).all()
    counts = {str(unit_id): 0 for unit_id in ids}
    counts.update({str(unit_id): count for unit_id, count in rows})
    return counts
