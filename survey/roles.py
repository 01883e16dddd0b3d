"""Who a member is to the product. A module of its own so that the command line can name roles
in its options without loading the storage layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"
    ADMIN = "admin"
