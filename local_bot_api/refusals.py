"""Telegram's refusals: what the Bot API answers with 400, checked the way Telegram checks.

The local server (``local_bot_api.server``) refuses what Telegram would refuse, so that a test
passing here does not meet a "Bad Request" in production: texts too long or empty, HTML that
Telegram's parse mode does not accept, keyboards with empty labels or callback data outside 1-64
bytes.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

#: Telegram's limits, in characters after entity parsing (https://core.telegram.org/bots/api).
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_LIMIT = 64
#: The tags Telegram's HTML parse mode knows; anything else is refused, as Telegram refuses it.
HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip


class Refused(Exception):
    """What Telegram answers with 400 and this description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: known tags only, properly nested, and every <, > and &
    that is not markup written as an entity. Collects the visible text to measure its length."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise Refused(f'can\'t parse entities: Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise Refused(f'can\'t parse entities: Unexpected end tag "{tag}"')
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise Refused("can't parse entities: unescaped < or > in the text")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            raise Refused(f'can\'t parse entities: Unsupported HTML entity "&{name};"')
        self.visible.append("x")

    def handle_charref(self, name: str) -> None:
        self.visible.append("x")


def check_text(text: object, parse_mode: object, limit: int, *, required: bool = False) -> None:
    if text is None or text == "":
        if required:
            raise Refused("message text is empty")
        return
    visible = str(text)
    if parse_mode == "HTML":
        if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", visible):
            raise Refused("can't parse entities: an & that starts no entity")
        parser = _TelegramHtml()
        parser.feed(visible)
        parser.close()
        if parser.open:
            raise Refused(
                f"can't parse entities: Can't find end tag corresponding to start tag "
                f'"{parser.open[-1]}"'
            )
        visible = "".join(parser.visible)
    if len(visible.strip()) == 0 and required:
        raise Refused("message text is empty")
    if len(visible) > limit:
        raise Refused("message is too long")


#: The fields of which an inline button has exactly one (core.telegram.org/bots/api,
#: InlineKeyboardButton).
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def check_keyboard(markup: object, chat_id: int | None = None) -> None:
    """An inline keyboard as Telegram checks it: each button has a text and one action; callback
    data of 1-64 bytes; a ``web_app`` button only in a private chat (a positive chat id) and only
    to an HTTPS address."""
    if not markup:
        return
    if isinstance(markup, str):
        markup = json.loads(markup)
    assert isinstance(markup, dict)
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise Refused("text buttons are unallowed in the inline keyboard")
            if sum(1 for action in BUTTON_ACTIONS if action in button) != 1:
                raise Refused("can't parse inline keyboard button: exactly one action is needed")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise Refused("BUTTON_DATA_INVALID")
            if "web_app" in button:
                _check_web_app(button["web_app"], chat_id)


def _check_web_app(web_app: object, chat_id: int | None) -> None:
    if chat_id is not None and chat_id < 0:
        raise Refused("BUTTON_TYPE_INVALID")
    url = web_app.get("url") if isinstance(web_app, dict) else None
    if not isinstance(url, str) or not url:
        raise Refused("can't parse inline keyboard button: Field \"url\" must be of type String")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise Refused(
            f"inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
        )
