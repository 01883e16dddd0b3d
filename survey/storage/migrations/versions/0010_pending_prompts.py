"""Staff's pending typed answers survive a restart.

Revision ID: 0010_pending_prompts
Revises: 0009_action_reminders
Create Date: 2026-12-04

When the bot had asked a manager or safety representative to write something (an action's
words, a comment, a reply to a request to talk), it kept that in memory: a restart lost it, and
the answer met "I only understand the commands...". Staff prompts now live in a table, one per
person, forgotten once answered or after PULSE_PROMPT_HOURS. Workers' check-ins never do (P5).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from survey.storage.types import UTCDateTime

revision: str = "0010_pending_prompts"
down_revision: str | None = "0009_action_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_prompt",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id"),
    )


def downgrade() -> None:
    op.drop_table("pending_prompt")
