"""The organisation that closes the loop (actions, comments, results, talk) through the real bot:
shared by the tests of those flows and of their acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregation.close import close_round
from survey.enrolment import create_unit, enrol_member
from survey.questions import import_question_set, load_question_set_file, load_version
from survey.questions.locked import lock_items
from survey.rounds import open_round
from survey.storage.models import Role, SurveyRound
from survey.submissions import submit

SETS = Path(__file__).resolve().parents[2] / "config" / "question_sets"
MANAGER_A, SAFETY_A, MANAGER_B, WORKER_B = (
    7_100_000_001,
    7_100_000_002,
    7_100_000_003,
    7_100_000_004,
)
WORKER_A = 800  # the first of Team A's six workers


@pytest.fixture
def tree(db, keys, settings):
    """IFO with Team A (eight workers, all answered) and Team B (eight, seven answered); a manager
    and a safety representative of A, a manager of B; one closed round, one open."""
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    row, question_set = load_version(db, "social-work-weekly")
    root = create_unit(db, "IFO")
    team_a = create_unit(db, "Team A", parent_id=root.id)
    team_b = create_unit(db, "Team B", parent_id=root.id)
    for user, unit, role in (
        (MANAGER_A, team_a, Role.MANAGER),
        (SAFETY_A, team_a, Role.SAFETY_REP),
        (MANAGER_B, team_b, Role.MANAGER),
        (WORKER_B, team_b, Role.WORKER),
    ):
        enrol_member(
            db, keys, telegram_user_id=user, chat_id=user, unit_id=unit.id, role=role, language="en"
        )
    closed = answered_and_closed(
        db,
        keys,
        settings,
        root,
        team_a,
        team_b,
        language="en",
        closed_at=datetime.now(UTC) - timedelta(days=2),
    )
    return {
        "root": root,
        "a": team_a,
        "b": team_b,
        "round": closed,
        "row": row,
        "set": question_set,
    }


def answered_and_closed(
    db, keys, settings, root, team_a, team_b, *, language: str = "sv", closed_at=None
) -> SurveyRound:
    """Eight workers in Team A (all answer) and seven in Team B (all answer; Team B's eighth
    member is a test's own worker, who does not), one round of the default set, closed."""
    row, question_set = load_version(db, "social-work-weekly")
    workers = [
        enrol_member(
            db,
            keys,
            telegram_user_id=800 + i,
            chat_id=800 + i,
            unit_id=team_a.id,
            language=language,
        )
        for i in range(8)
    ] + [
        enrol_member(db, keys, telegram_user_id=900 + i, chat_id=900 + i, unit_id=team_b.id)
        for i in range(7)
    ]
    now = datetime.now(UTC)
    items = lock_items([(row.id, question_set)], 0)
    closed = open_round(
        db,
        keys,
        settings,
        unit_id=root.id,
        items=items,
        opens_at=now - timedelta(days=4),
        closes_at=now + timedelta(hours=1),
        question_set_versions=[row.id],
    )
    for n, member in enumerate(workers):
        submit(
            db,
            keys,
            member_id=member.id,
            round_id=closed.id,
            answers={i.key: i.options[-1 - n % 2] for i in items},
        )
    close_round(db, keys, closed.id, now=closed_at)
    return closed


def button(message, label: str) -> str:
    return next(data for text, data in message.buttons() if text == label)


async def ask_for_the_area(api):
    """The manager presses "Record an action" under their report: the bot asks for the area."""
    api.send_text(MANAGER_A, "/report", language="en")
    await api.wait_for(lambda: any(m.buttons() for m in api.messages[MANAGER_A]))
    report = next(m for m in api.messages[MANAGER_A] if m.buttons())
    api.press(MANAGER_A, report, button(report, "Record an action"), language="en")
    await api.wait_for(lambda: "Which area does it answer?" in (api.last(MANAGER_A).text or ""))
    return api.last(MANAGER_A)


async def describe_the_action(api, choose, title: str, owner: str):
    """Support as the area, then the words and the owner: the bot asks by when (returned)."""
    api.press(MANAGER_A, choose, button(choose, "Support"), language="en")
    await api.wait_for(lambda: "What will be done?" in (choose.text or ""))
    api.send_text(MANAGER_A, title, language="en")
    await api.wait_for(lambda: "Who owns it?" in (api.last(MANAGER_A).text or ""))
    api.send_text(MANAGER_A, owner, language="en")
    await api.wait_for(lambda: "By when?" in (api.last(MANAGER_A).text or ""))
    return api.last(MANAGER_A)


async def record_through_the_bot(api, title: str = "A mentor for every new social worker"):
    choose = await ask_for_the_area(api)
    due = await describe_the_action(api, choose, title, "Unit manager <Anna>")
    api.press(MANAGER_A, due, due.buttons()[1][1], language="en")
    await api.wait_for(lambda: "Recorded:" in (api.last(MANAGER_A).text or ""))
    return api.last(MANAGER_A).text
