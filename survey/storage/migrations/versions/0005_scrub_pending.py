"""Closed rounds whose destroyed rows are not yet verified gone.

Revision ID: 0005_scrub_pending
Revises: 0004_delivery
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_scrub_pending"
down_revision: str | None = "0004_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(
            sa.Column("scrub_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_column("scrub_pending")
