"""Setting up and inspecting an installation: keys, schema, and a health summary for operators."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, make_url
from sqlmodel import col, select

from survey.crypto import (
    KeyFileError,
    KeyPaths,
    KeyRing,
    KeysExistError,
    generate_keys,
    rotate_report_key,
)
from survey.settings import SurveySettings
from survey.storage import Database, current_revision, head_revision, upgrade_to_head
from survey.storage.models import Member, RoundState, SurveyRound, Unit


def key_paths(settings: SurveySettings) -> KeyPaths:
    return KeyPaths(settings.resolved_keys_dir, settings.resolved_report_private_keys_dir)


def key_ring(settings: SurveySettings) -> KeyRing:
    return KeyRing(key_paths(settings))


@dataclass(frozen=True)
class InitResult:
    keys_created: bool
    report_key_id: str
    revision: str


def initialise(settings: SurveySettings, db: Database) -> InitResult:
    """Create keys if there are none yet and migrate the database to head; safe to run again."""
    paths = key_paths(settings)
    try:
        key_id = generate_keys(paths)
        created = True
    except KeysExistError:
        key_id = KeyRing(paths).active_report_key().key_id
        created = False
    revision = upgrade_to_head(db.engine)
    return InitResult(created, key_id, revision)


def rotate_keys(settings: SurveySettings) -> str:
    return rotate_report_key(key_paths(settings))


@dataclass(frozen=True)
class Status:
    database: str
    revision: str | None
    head: str
    active_report_key: str | None
    report_keys: list[str]
    private_keys_here: list[str]
    units: int
    members: int
    open_rounds: int
    closed_rounds: int
    #: Closed rounds whose destroyed rows are not yet verified gone (P2): needs attention.
    scrub_pending: int = 0
    #: Files and directories of the installation that others than their owner may read or
    #: enter ("path (mode 0644)"): needs attention.
    loose: tuple[str, ...] = ()

    @property
    def schema_current(self) -> bool:
        return self.revision == self.head


def status(settings: SurveySettings, db: Database) -> Status:
    """What an operator needs to see first; no figure here is about any person."""
    db.ping()
    ring = key_ring(settings)
    key_ids = ring.report_key_ids()
    try:
        active: str | None = ring.active_report_key().key_id
    except KeyFileError:  # status reports a missing key instead of failing
        active = None
    private_here = [k for k in key_ids if ring.paths.report_private(k).exists()]
    revision = current_revision(db.engine)
    counts = {"units": 0, "members": 0, "open": 0, "closed": 0, "pending": 0}
    if revision is not None:
        with db.session() as session:
            counts["units"] = session.exec(select(func.count()).select_from(Unit)).one()
            counts["members"] = session.exec(select(func.count()).select_from(Member)).one()
            for state, n in session.exec(
                select(SurveyRound.state, func.count()).group_by(col(SurveyRound.state))
            ).all():
                counts["open" if state == RoundState.OPEN else "closed"] += n
            counts["pending"] = session.exec(
                select(func.count())
                .select_from(SurveyRound)
                .where(SurveyRound.scrub_pending == True)  # noqa: E712
            ).one()
    return Status(
        database=make_url(settings.resolved_database_url).render_as_string(hide_password=True),
        revision=revision,
        head=head_revision(),
        active_report_key=active,
        report_keys=key_ids,
        private_keys_here=private_here,
        units=counts["units"],
        members=counts["members"],
        open_rounds=counts["open"],
        closed_rounds=counts["closed"],
        scrub_pending=counts["pending"],
        loose=tuple(loose_files(settings)),
    )


def loose_files(settings: SurveySettings) -> list[str]:
    """The installation's files and directories that anyone but their owner may read or enter.

    The database holds encrypted names of people who asked to talk and the sealed pool of open
    rounds; keys, logs and backups are the service user's alone. `pulse` creates everything
    0600 in 0700 directories (its umask is 077); this finds what was created otherwise (copied
    in, restored from a backup, made by an older version)."""
    places: list[Path] = [settings.data_dir, settings.resolved_keys_dir]
    places.append(settings.resolved_report_private_keys_dir)
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database)
        places += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    if settings.log_file is not None:
        places.append(settings.log_file.parent)
        places += sorted(settings.log_file.parent.glob(settings.log_file.name + "*"))
    for folder in (settings.resolved_keys_dir, settings.resolved_report_private_keys_dir):
        if folder.is_dir():
            places += sorted(folder.iterdir())
    found = []
    for place in dict.fromkeys(places):  # each once, in order
        try:
            mode = place.stat().st_mode
        except OSError:
            continue
        if mode & 0o077:
            found.append(f"{place} (mode {stat.S_IMODE(mode):04o})")
    return found
