"""Upgrades keep data: an open round's participation survives the move to pseudonym keys."""

from __future__ import annotations

from sqlalchemy import text

from survey.storage import Database, current_revision, head_revision
from survey.storage.migrate import migrate_to


def test_upgrade_from_the_core_schema_keeps_open_round_participation(db: Database) -> None:
    migrate_to(db.engine, "0001_core")
    assert current_revision(db.engine) == "0001_core"
    with db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO unit (id, name, kind, archived) VALUES (1, 'IFO', 'enhet', false)")
        )
        connection.execute(
            text(
                "INSERT INTO member (id, pseudonym, chat_id_sealed, role, unit_id, language, "
                "status) VALUES (7, :p, :c, 'worker', 1, 'sv', 'active')"
            ),
            {"p": "ab" * 32, "c": b"x"},
        )
        connection.execute(
            text(
                "INSERT INTO survey_round (id, unit_id, question_set_version, items, "
                "min_group_size, spread_min_group_size, member_counts, report_key_id, opens_at, "
                "closes_at, state) "
                "VALUES (3, 1, 'old@1', '[]', 5, 10, '{}', 'k', :t, :t, 'open')"
            ),
            {"t": "2026-11-02 08:00:00"},
        )
        connection.execute(text("INSERT INTO participation (round_id, member_id) VALUES (3, 7)"))
    migrate_to(db.engine, "head")
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as connection:
        marks = connection.execute(text("SELECT round_id, pseudonym FROM participation")).all()
        rounds = connection.execute(
            text("SELECT id, sequence, schedule_id, reminded_at, known_others FROM survey_round")
        ).all()
    assert [tuple(m) for m in marks] == [(3, "ab" * 32)]
    # 0008: a round opened before the insider rules keeps the rules it was opened under (-1:
    # published for an outsider), so a recomputation publishes exactly what was published.
    assert [tuple(r) for r in rounds] == [(3, 0, None, None, -1)]


def test_upgrade_to_release_groups_keeps_only_published_counts(db: Database) -> None:
    """0005: per-unit counts of units a closed round never showed go (they told, without any
    key, whether a one-person unit's worker answered); shown ones and open rounds stay."""
    migrate_to(db.engine, "0004_delivery")
    with db.engine.begin() as connection:
        for unit, parent in ((1, None), (2, 1), (3, 1)):
            connection.execute(
                text(
                    "INSERT INTO unit (id, parent_id, name, kind, archived) "
                    "VALUES (:u, :p, 'U', 'enhet', false)"
                ),
                {"u": unit, "p": parent},
            )
        connection.execute(
            text(
                "INSERT INTO survey_round (id, unit_id, sequence, question_set_versions, items, "
                "min_group_size, spread_min_group_size, member_counts, report_key_id, opens_at, "
                "closes_at, state) VALUES (5, 1, 0, '[]', '[]', 5, 10, '{}', 'k', :t, :t, "
                "'closed')"
            ),
            {"t": "2026-11-02 08:00:00"},
        )
        for unit, n in ((1, 9), (2, 8), (3, 1)):
            connection.execute(
                text("INSERT INTO round_unit_count VALUES (5, :u, :n)"), {"u": unit, "n": n}
            )
        for unit, shown in ((1, "true"), (2, "true"), (3, "false")):
            connection.execute(
                text("INSERT INTO round_statistic VALUES (5, :u, :f, '{}')"),
                {"u": unit, "f": f'{{"shown": {shown}, "parent": 1}}'},
            )
    migrate_to(db.engine, "head")
    with db.engine.connect() as connection:
        counts = connection.execute(
            text("SELECT unit_id, respondents FROM round_unit_count ORDER BY unit_id")
        ).all()
        pending = connection.execute(text("SELECT scrub_pending FROM survey_round")).scalar()
    assert [tuple(c) for c in counts] == [(1, 9), (2, 8)]
    assert pending in (False, 0)


def test_the_schema_revisions_read_without_alembic_agree_with_alembic(db: Database) -> None:
    """Commands read the head and the current revision without loading Alembic; Alembic says
    the same, before and after the first migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from survey.storage.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as connection:
        assert (
            current_revision(db.engine)
            == MigrationContext.configure(connection).get_current_revision()
        )
    migrate_to(db.engine, "0003_round_statistics")
    assert current_revision(db.engine) == "0003_round_statistics"
    migrate_to(db.engine, "head")  # the session's database stays at head for other tests
    assert current_revision(db.engine) == head_revision()
