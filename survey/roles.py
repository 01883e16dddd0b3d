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
