"""Survey core: units, members, rounds, participation, sealed pool and responses.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from survey.storage.types import UTCDateTime

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_unit_parent_id", "unit", ["parent_id"])
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
        sa.Column("chat_id_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "unit_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "survey_round",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "unit_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("question_set_version", sa.String(120)),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("min_group_size", sa.Integer(), nullable=False),
        sa.Column("spread_min_group_size", sa.Integer(), nullable=False),
        sa.Column("member_counts", sa.JSON(), nullable=False),
        sa.Column("report_key_id", sa.String(16), nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=False),
        sa.Column("closes_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_survey_round_state", "survey_round", ["state"])
    op.create_table(
        "participation",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("survey_round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("member.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sqlite_with_rowid=False,
    )
    for table, index in (
        ("pool_submission", "ix_pool_submission_round_id"),
        ("response", None),
    ):
        op.create_table(
            table,
            sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
            sa.Column(
                "round_id",
                sa.Integer(),
                sa.ForeignKey("survey_round.id", ondelete="RESTRICT"),
                nullable=False,
            ),
            sa.Column(
                "unit_id",
                sa.Integer(),
                sa.ForeignKey("unit.id", ondelete="RESTRICT"),
                nullable=False,
            ),
            sa.Column("sealed", sa.LargeBinary(), nullable=False),
            sqlite_with_rowid=False,
        )
        if index:
            op.create_index(index, table, ["round_id"])
    op.create_index("ix_response_round_unit", "response", ["round_id", "unit_id"])
    op.create_table(
        "round_unit_count",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("survey_round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("unit.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("respondents", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "round_unit_count",
        "response",
        "pool_submission",
        "participation",
        "survey_round",
        "member",
        "unit",
    ):
        op.drop_table(table)
