"""Configuration: question-set versions, invites, schedules; rounds tied to schedules;
participation keyed by pseudonym.

Revision ID: 0002_configuration
Revises: 0001_core
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from survey.storage.types import UTCDateTime

revision: str = "0002_configuration"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "question_set",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("active_version", sa.Integer()),
    )
    op.create_table(
        "question_set_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "set_id",
            sa.String(60),
            sa.ForeignKey("question_set.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("set_id", "version", name="uq_question_set_version"),
    )
    op.create_table(
        "invite",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "unit_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "invite_failure",
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "unit_id", sa.Integer(), sa.ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("question_sets", sa.JSON(), nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("open_hours", sa.Integer(), nullable=False),
        sa.Column("remind_after_hours", sa.Integer(), nullable=False),
        sa.Column("skip", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(
            sa.Column(
                "schedule_id",
                sa.Integer(),
                sa.ForeignKey(
                    "schedule.id", ondelete="SET NULL", name="fk_survey_round_schedule_id"
                ),
            )
        )
        batch.add_column(
            sa.Column("sequence", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column(
                "question_set_versions",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch.add_column(sa.Column("remind_at", UTCDateTime()))
        batch.add_column(sa.Column("reminded_at", UTCDateTime()))
        batch.drop_column("question_set_version")
        batch.create_index("ix_survey_round_schedule_id", ["schedule_id"])
        batch.create_unique_constraint(
            "uq_survey_round_schedule_opens_at", ["schedule_id", "opens_at"]
        )
    # Participation: from member id to pseudonym, keeping the marks of rounds still open.
    op.create_table(
        "participation_new",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("survey_round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO participation_new (round_id, pseudonym) "
        "SELECT p.round_id, m.pseudonym FROM participation p JOIN member m ON m.id = p.member_id"
    )
    op.drop_table("participation")
    op.rename_table("participation_new", "participation")


def downgrade() -> None:
    op.create_table(
        "participation_old",
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
    op.execute(
        "INSERT INTO participation_old (round_id, member_id) "
        "SELECT p.round_id, m.id FROM participation p JOIN member m ON m.pseudonym = p.pseudonym"
    )
    op.drop_table("participation")
    op.rename_table("participation_old", "participation")
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_constraint("uq_survey_round_schedule_opens_at", type_="unique")
        batch.drop_index("ix_survey_round_schedule_id")
        batch.add_column(sa.Column("question_set_version", sa.String(120)))
        batch.drop_column("reminded_at")
        batch.drop_column("remind_at")
        batch.drop_column("question_set_versions")
        batch.drop_column("sequence")
        batch.drop_constraint("fk_survey_round_schedule_id", type_="foreignkey")
        batch.drop_column("schedule_id")
    for table in ("schedule", "invite_failure", "invite", "question_set_version", "question_set"):
        op.drop_table(table)
