"""initData signed the way Telegram signs it, written from Telegram's page apart from the code
under test (web.init_data) and from the demo's signer (local_bot_api.web_app)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

TOKEN = "1234567890:" + "A" * 35
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    """initData as the Telegram client hands it over: the fields, and the hash over them,
    written here from Telegram's page, apart from the code under test (the key is the token
    signed with the constant "WebAppData" as HMAC key, not the other way round)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def fields_for(user_id: int = 7_100_000_001, at: datetime = NOW, **more: str) -> dict[str, str]:
    user = {"id": user_id, "first_name": "Anna", "language_code": "sv"}
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(at.timestamp())),
        **more,
    }
