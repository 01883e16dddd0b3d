"""The managers' dashboard: one-time login links, sessions, and the staff access log.

Revision ID: 0014_dashboard
Revises: 0013_checkin_channel
Create Date: 2026-12-05

Staff open the dashboard from the bot (as a Mini App) or with a one-time login link in an
ordinary browser. Only hashes of the links' and sessions' secrets are stored. Each opening of a
unit's page is logged with who opened it (their Telegram name, encrypted), kept 90 days.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from survey.storage.types import UTCDateTime

revision: str = "0014_dashboard"
down_revision: str | None = "0013_checkin_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_link",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("member.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_login_link_member_id", "login_link", ["member_id"])
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("member.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_web_session_member_id", "web_session", ["member_id"])
    op.create_table(
        "staff_access",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("unit.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_staff_access_unit_id", "staff_access", ["unit_id"])
    op.create_index("ix_staff_access_at", "staff_access", ["at"])


def downgrade() -> None:
    op.drop_table("staff_access")
    op.drop_table("web_session")
    op.drop_table("login_link")
