"""What a Telegram client hands a Mini App it opens: signed ``initData`` in the page's URL
fragment, with the client's theme. The demo and the benchmarks open the check-in page the way
Telegram does with it; the project's tests of the signature check sign on their own, apart
from this code (tests/web/signing.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

#: The colours Telegram's light theme passes (core.telegram.org/bots/webapps, ThemeParams).
LIGHT_THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#3390ec",
    "button_color": "#3390ec",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f4f4f5",
}


def init_data_for(
    user_id: int,
    bot_token: str,
    *,
    language: str = "sv",
    first_name: str = "Demo",
    now: datetime | None = None,
) -> str:
    """initData as Telegram signs it for ``user_id`` opening a Mini App of the bot."""
    user = {"id": user_id, "first_name": first_name, "language_code": language}
    fields = {
        "query_id": "AA" + secrets.token_urlsafe(18),
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int((now or datetime.now(UTC)).timestamp())),
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def opened_as_telegram_does(url: str, init_data: str, theme: dict[str, str] | None = None) -> str:
    """The page's address as the Telegram client loads it: the launch parameters go in the
    fragment, which a browser never sends to any server."""
    launch = {
        "tgWebAppData": init_data,
        "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": "android",
        "tgWebAppThemeParams": json.dumps(theme or LIGHT_THEME, separators=(",", ":")),
    }
    return url + "#" + urlencode(launch, quote_via=quote)
