"""Who a member is to the product. A module of its own so that the command line can name roles
in its options without loading the storage layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"
    #: Skyddsombud: follows the same results as the managers of the units in the grant (AFS
    #: 2023:1), and changes nothing.
    SAFETY_REP = "safety_rep"
    ADMIN = "admin"


#: Roles that read results within their grant (reports, trends, units) and receive the reports
#: after each close; only admins also configure.
READERS = frozenset({Role.MANAGER, Role.SAFETY_REP, Role.ADMIN})
#: Who may record and change actions (AFS 2023:1: act, then follow up): the managers of a unit,
#: and admins. A safety representative follows and comments, and changes nothing.
ACTORS = frozenset({Role.MANAGER, Role.ADMIN})
#: Who configures: units, invites, schedules, question sets.
ADMINS = frozenset({Role.ADMIN})
