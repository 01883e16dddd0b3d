"""Telegram's signed ``initData``: who opened a Mini App, proven by Telegram, checked here.

A page opened from a ``web_app`` button receives ``initData`` from the Telegram client and sends
it with every request. It is trusted only after this module has checked it exactly as Telegram
documents (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):

- the data-check-string is every received field except ``hash``, as ``key=value``, sorted by
  key, joined by line feeds;
- the secret key is HMAC-SHA256 of the bot token, keyed with the constant ``WebAppData``;
- ``hash`` must be the hex HMAC-SHA256 of the data-check-string under that key, compared in
  constant time.

It is parsed once and strictly: a field twice, a field without ``=``, a body over
``MAX_LENGTH``, a user that is not a JSON object with an integer id, an ``auth_date`` that is not
a number or lies in the future are all refused, as is anything older than the configured age.
Nothing here logs: initData names a person (P4).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl

#: Longer initData than Telegram ever sends is refused before any work is done on it.
MAX_LENGTH = 4096
#: A client clock a little ahead of ours is not an attack.
CLOCK_SKEW = timedelta(minutes=2)
_HASH = re.compile(r"\A[0-9a-f]{64}\Z")

Reason = Literal["malformed", "forged", "expired"]


class InitDataError(ValueError):
    """``initData`` that proves nothing; ``reason`` says which kind, never what it held."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason: Reason = reason


@dataclass(frozen=True)
class WebAppUser:
    """The person who opened the page, as Telegram vouches for them."""

    id: int
    language_code: str | None
    #: First and last name as the person shows them in Telegram (staff's, for the dashboard's
    #: access log; a worker's is never used).
    name: str = ""


@dataclass(frozen=True)
class InitData:
    user: WebAppUser
    auth_date: datetime
    #: Telegram's id of this opening of the page (absent when opened from some places).
    query_id: str | None


def secret_key(bot_token: str) -> bytes:
    """The key initData is signed with, derived from the bot token."""
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def validate_init_data(
    raw: str, bot_token: str, *, max_age: timedelta, now: datetime | None = None
) -> InitData:
    """The verified initData of ``raw``; raises InitDataError otherwise."""
    fields = _fields(raw)
    received = fields.get("hash", "")
    if not _HASH.match(received):
        raise InitDataError("malformed", "initData carries no valid hash")
    expected = hmac.new(
        secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, received):
        raise InitDataError("forged", "initData is not signed by this bot's Telegram")
    auth_date = _auth_date(fields.get("auth_date", ""))
    now = now or datetime.now(UTC)
    if auth_date > now + CLOCK_SKEW:
        raise InitDataError("malformed", "initData is dated in the future")
    if now - auth_date > max_age:
        raise InitDataError("expired", "initData is older than allowed")
    return InitData(_user(fields.get("user")), auth_date, fields.get("query_id"))


def _fields(raw: str) -> dict[str, str]:
    if not raw or len(raw) > MAX_LENGTH:
        raise InitDataError("malformed", "initData is empty or too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True, max_num_fields=32)
    except ValueError as exc:
        raise InitDataError("malformed", "initData is not a query string") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise InitDataError("malformed", "initData has a field twice")
        fields[key] = value
    return fields


def _auth_date(value: str) -> datetime:
    if not value.isdigit() or len(value) > 12:
        raise InitDataError("malformed", "initData has no valid auth_date")
    return datetime.fromtimestamp(int(value), UTC)


def _user(value: str | None) -> WebAppUser:
    if value is None:
        raise InitDataError("malformed", "initData names no user")
    try:
        user = json.loads(value)
    except ValueError as exc:
        raise InitDataError("malformed", "initData's user is not JSON") from exc
    if not isinstance(user, dict):
        raise InitDataError("malformed", "initData's user is not an object")
    user_id, language = user.get("id"), user.get("language_code")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise InitDataError("malformed", "initData's user has no valid id")
    if language is not None and not isinstance(language, str):
        raise InitDataError("malformed", "initData's user has an invalid language")
    names = [user.get("first_name"), user.get("last_name")]
    name = " ".join(n for n in names if isinstance(n, str) and n)[:200]
    return WebAppUser(user_id, language, name)
