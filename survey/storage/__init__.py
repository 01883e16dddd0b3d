"""Storage: tables, engine and sessions, migrations."""

from survey.storage.engine import Database, DatabaseUnavailableError, ScrubResult, make_engine
from survey.storage.migrate import current_revision, head_revision, upgrade_to_head

__all__ = [
    "Database",
    "DatabaseUnavailableError",
    "ScrubResult",
    "current_revision",
    "head_revision",
    "make_engine",
    "upgrade_to_head",
]
