"""What the bot waits for a staff member to type, kept across restarts.

A manager who pressed "Reply" to a request to talk, or is halfway through recording an action,
should not lose it to a restart of the bot. Only staff flows use this (never a worker's
check-in, which lives in its own signed buttons, P5); one prompt per person, replaced by the
next, forgotten once answered or cancelled, and unusable after PULSE_PROMPT_HOURS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from survey.storage import Database
from survey.storage.models import PendingPrompt


def remember_prompt(
    db: Database, member_id: int, kind: str, data: dict[str, Any], now: datetime
) -> None:
    with db.session() as session:
        row = session.get(PendingPrompt, member_id)
        if row is None:
            session.add(PendingPrompt(member_id=member_id, kind=kind, data=data, asked_at=now))
        else:
            row.kind, row.data, row.asked_at = kind, dict(data), now


def pending_prompt(
    db: Database, member_id: int, now: datetime, max_age: timedelta
) -> tuple[str, dict[str, Any]] | None:
    """The member's prompt, or None (none, or too old: then it is forgotten)."""
    with db.session() as session:
        row = session.get(PendingPrompt, member_id)
        if row is None:
            return None
        if now - row.asked_at > max_age:
            session.delete(row)
            return None
        return row.kind, dict(row.data)


def forget_prompt(db: Database, member_id: int) -> None:
    with db.session() as session:
        row = session.get(PendingPrompt, member_id)
        if row is not None:
            session.delete(row)
