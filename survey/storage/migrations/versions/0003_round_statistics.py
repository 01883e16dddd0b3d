"""Published round statistics per unit.

Revision ID: 0003_round_statistics
Revises: 0002_configuration
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_round_statistics"
down_revision: str | None = "0002_configuration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_statistic",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("survey_round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "unit_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True
        ),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("indices", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("round_statistic")
