"""Stored figures say which shape they have.

Revision ID: 0012_figures_version
Revises: 0011_claims
Create Date: 2026-12-05

The published figures of a round (``round_statistic.figures``) are read by every report, chart,
export and results message, and by anyone who analyses a copy of the database. Their shape is
now one typed contract (survey/figures.py), and each row records its version, so that a reader
of another version stops with a clear message instead of misreading a key. Every row stored so
far has shape 1.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_figures_version"
down_revision: str | None = "0011_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("round_statistic") as batch:
        batch.add_column(
            sa.Column("figures_version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    with op.batch_alter_table("round_statistic") as batch:
        batch.drop_column("figures_version")
