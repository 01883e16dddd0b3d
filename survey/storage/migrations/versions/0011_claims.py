"""Every message is claimed before it leaves.

Revision ID: 0011_claims
Revises: 0010_pending_prompts
Create Date: 2026-12-05

A delivery record used to be written after Telegram accepted a message: a record that could
not be written (a full disk) meant the next tick sent again, and a leader that had lost its lock
could still send. Now the record is a claim written before the send (survey.claims). Messages
that must not be lost (reports, results, requests to talk) carry whether Telegram's acceptance
was seen, so the next leader sends again what a crash left open. Existing rows were all written
after the send: they are confirmed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_claims"
down_revision: str | None = "0010_pending_prompts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(
            sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("talk_request") as batch:
        batch.add_column(
            sa.Column("delivery_confirmed", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("talk_request") as batch:
        batch.drop_column("delivery_confirmed")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("confirmed")
