"""When a round actually closed.

Revision ID: 0006_closed_at
Revises: 0005_release_groups
Create Date: 2026-11-23

Reports dated rounds by their scheduled close; a close that waited (the report private key kept
elsewhere, the bot down over a weekend) then showed a day on which nothing had closed. Rounds
closed before this revision get their scheduled close, the best that is known.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from survey.storage.types import UTCDateTime

revision: str = "0006_closed_at"
down_revision: str | None = "0005_release_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE survey_round SET closed_at = closes_at WHERE state = 'closed'")


def downgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_column("closed_at")
