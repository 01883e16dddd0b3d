"""A worker may choose where to answer: the Mini App page or the chat's buttons.

Revision ID: 0013_checkin_channel
Revises: 0012_figures_version
Create Date: 2026-12-05

The check-in moves to a page served by our own server, so that Telegram never carries an answer
(docs/privacy.md). The chat's buttons stay as a fallback a worker can choose in /settings; NULL
follows the installation's default (``PULSE_CHECKIN_CHANNEL``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_checkin_channel"
down_revision: str | None = "0012_figures_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("checkin_channel", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.drop_column("checkin_channel")
