"""One overdue reminder record per recipient.

Revision ID: 0009_action_reminders
Revises: 0008_insider
Create Date: 2026-12-04

An action's one "reminded" flag covered all of a unit's managers: a failed send to one of them
was never tried again, and a restart between two sent the first one twice. Each recipient now
gets a record of their own; the flag still says that every recipient has had it. Actions
already reminded keep their flag and need no records.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_action_reminders"
down_revision: str | None = "0008_insider"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_reminder",
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("action_id", "member_id"),
    )


def downgrade() -> None:
    op.drop_table("action_reminder")
