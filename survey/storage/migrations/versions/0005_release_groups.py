"""Release to safe groups (P1) and verified scrubbing (P2).

Revision ID: 0005_release_groups
Revises: 0004_delivery
Create Date: 2026-11-23

Rounds now remember, from their close, what may be published about who answered
(``publication``), and whether the rows their close destroyed are verified gone
(``scrub_pending``). For rounds closed before this revision, the per-unit counts of units that
were never published are deleted: they said, without any key, whether the only worker of a
small unit had answered. Their sealed answers still carry the unit they were given in; `pulse
rounds regroup` (which needs the report private key) moves them into their published groups.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_release_groups"
down_revision: str | None = "0004_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(
            sa.Column("scrub_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("publication", sa.JSON(), nullable=True))
    connection = op.get_bind()
    published, with_statistics = set(), set()
    for round_id, unit_id, figures in connection.execute(
        sa.text("SELECT round_id, unit_id, figures FROM round_statistic")
    ):
        with_statistics.add(round_id)
        if (json.loads(figures) if isinstance(figures, str) else figures).get("shown"):
            published.add((round_id, unit_id))
    for round_id, unit_id in connection.execute(
        sa.text("SELECT round_id, unit_id FROM round_unit_count")
    ).all():
        if round_id in with_statistics and (round_id, unit_id) not in published:
            connection.execute(
                sa.text("DELETE FROM round_unit_count WHERE round_id = :r AND unit_id = :u"),
                {"r": round_id, "u": unit_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_column("publication")
        batch.drop_column("scrub_pending")
