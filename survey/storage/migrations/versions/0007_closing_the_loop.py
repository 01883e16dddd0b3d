"""Closing the loop: actions, comments, notes to workers, talk requests, results opt-out.

Revision ID: 0007_closing_the_loop
Revises: 0006_closed_at
Create Date: 2026-11-23

Results now go back to workers after each round, managers record actions and safety
representatives comment on them, and a worker can ask to talk to someone. None of these tables
holds an answer; ``talk_request`` holds a worker by choice, with no round and only a day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_closing_the_loop"
down_revision: str | None = "0006_closed_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(
            sa.Column("wants_results", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("construct_key", sa.String(length=60), nullable=True),
        sa.Column("item", sa.String(length=60), nullable=True),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("overdue_reminded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("followup_round_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by"], ["member.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["followup_round_id"], ["survey_round.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_unit_id", "action", ["unit_id"])
    op.create_table(
        "action_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_comment_action_id", "action_comment", ["action_id"])
    op.create_table(
        "round_note",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["survey_round.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("round_id", "unit_id"),
    )
    op.create_table(
        "talk_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("delivered_to", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivered_to"], ["member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_talk_request_member_id", "talk_request", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_talk_request_member_id", table_name="talk_request")
    op.drop_table("talk_request")
    op.drop_table("round_note")
    op.drop_index("ix_action_comment_action_id", table_name="action_comment")
    op.drop_table("action_comment")
    op.drop_index("ix_action_unit_id", table_name="action")
    op.drop_table("action")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("wants_results")
