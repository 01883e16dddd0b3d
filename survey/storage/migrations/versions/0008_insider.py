"""The insider's J, locked per round like k.

Revision ID: 0008_insider
Revises: 0007_closing_the_loop
Create Date: 2026-12-04

Publications now hold against a colleague who knows their own answer and the participation of J
others (docs/privacy.md, P6). A round locks its J when it opens. Rounds opened before this
revision were published for an outsider; they get -1, so that a report judges them by the rules
they were published under, and a recomputation publishes exactly what was published.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_insider"
down_revision: str | None = "0007_closing_the_loop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(
            sa.Column("known_others", sa.Integer(), nullable=False, server_default="-1")
        )
    with op.batch_alter_table("survey_round") as batch:
        batch.alter_column("known_others", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_column("known_others")
