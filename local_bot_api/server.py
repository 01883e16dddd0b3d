"""The local Bot API server: the real python-telegram-bot talks HTTP to it, with no Telegram.

A supported part of Staff Pulse: `pulse demo` runs the real bot against it, the tests make it as
strict as Telegram (``local_bot_api.refusals``), and the benchmarks measure the bot against it.
It keeps a chat per user, answers the methods the bot uses the way Telegram does (same JSON
shapes, same error envelopes), lets a caller inject messages and button presses and read what
the bot sent, and can answer 429, 403 or 5xx on demand. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from local_bot_api.refusals import (
    CALLBACK_ANSWER_LIMIT,
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Refused,
    check_keyboard,
    check_text,
)

#: Form fields that python-telegram-bot sends JSON-encoded; all others are plain strings.
_JSON_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "allowed_updates",
    "reply_markup",
    "commands",
    "scope",
    "show_alert",
    "cache_time",
    "disable_notification",
    "user_id",
    "link_preview_options",
    "reply_parameters",
    "drop_pending_updates",
    "max_connections",
}


@dataclass
class Sent:
    """A message as the bot left it (edits update it in place)."""

    chat_id: int
    message_id: int
    text: str | None
    reply_markup: dict[str, Any] | None
    parse_mode: str | None = None
    kind: str = "text"
    deleted: bool = False
    history: list[str] = field(default_factory=list)

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of every inline button, row by row."""
        if not self.reply_markup:
            return []
        return [
            (button["text"], button.get("callback_data", ""))
            for row in self.reply_markup.get("inline_keyboard", [])
            for button in row
        ]

    def web_apps(self) -> list[tuple[str, str]]:
        """(label, address) of every button that opens a Mini App."""
        if not self.reply_markup:
            return []
        return [
            (button["text"], button["web_app"]["url"])
            for row in self.reply_markup.get("inline_keyboard", [])
            for button in row
            if "web_app" in button
        ]


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1


class LocalBotApi:
    """Run with ``async with LocalBotApi() as api:``; give the bot ``api.base_url``."""

    def __init__(
        self,
        token: str | None = None,
        username: str = "staff_pulse_test_bot",
        port: int = 0,
        *,
        strict: bool = True,
    ) -> None:
        self.token = token or f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(27)}"
        self.username = username
        self.bot_id = int(self.token.split(":")[0])
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self.messages: dict[int, list[Sent]] = defaultdict(list)
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        self._issued_callbacks: set[str] = set()
        #: Every 400 this server answered, as (method, description): tests assert on it.
        self.bad_requests: list[tuple[str, str]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[str, Any] = {}
        self.left_chats: list[int] = []
        self.unsupported: set[str] = set()
        self._failures: dict[str, list[Failure]] = defaultdict(list)
        #: Seconds every send* call takes, as a far-away Telegram would (benchmarks).
        self.latency = 0.0
        #: method -> how many more calls are carried out but never answered (a lost reply)
        self._lost_replies: dict[str, int] = defaultdict(int)
        self._blocked: set[int] = set()
        self._runner: web.AppRunner | None = None
        #: 0 picks a free port; a fixed one lets a test start the bot before its server.
        self.port = port
        #: Check texts, HTML and keyboards as Telegram does (tests); the demo, which only
        #: replays what the tests have checked, skips the parsing to stay quick.
        self.strict = strict
        self.files: dict[str, bytes] = {}
        #: When set, updates go straight to this callback (as a webhook would deliver them)
        #: instead of waiting for the bot's next getUpdates.
        self.push_to: Callable[[dict[str, Any]], None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> LocalBotApi:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound port only on its private server
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what a test or the demo does ------------------------------------------------------------

    def user(self, user_id: int, language: str = "sv", first_name: str = "Test") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language}

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        language: str = "sv",
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> None:
        """A user writes ``text`` to the bot (in a group when ``chat_type`` says so)."""
        chat = {"id": chat_id or user_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Arbetsgruppen"
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user_id, language),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._push({"message": message})

    def send_document(self, user_id: int, name: str, content: bytes, language: str = "sv") -> None:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = content
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": self.user(user_id, language),
            "document": {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": name,
                "mime_type": "application/x-yaml",
                "file_size": len(content),
            },
        }
        self._push({"message": message})

    def press(self, user_id: int, message: Sent, data: str, language: str = "sv") -> str:
        """The user presses an inline button (or sends forged ``data`` for one)."""
        callback_id = str(next(self._callback_ids))
        self._issued_callbacks.add(callback_id)
        self._push(
            {
                "callback_query": {
                    "id": callback_id,
                    "from": self.user(user_id, language),
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": message.message_id,
                        "date": int(time.time()),
                        "chat": {"id": message.chat_id, "type": "private"},
                        "text": message.text or "",
                    },
                }
            }
        )
        return callback_id

    def last(self, chat_id: int) -> Sent:
        live = [m for m in self.messages[chat_id] if not m.deleted]
        if not live:
            raise AssertionError(f"the bot has sent nothing to chat {chat_id}")
        return live[-1]

    def texts(self, chat_id: int) -> list[str]:
        return [m.text or "" for m in self.messages[chat_id] if not m.deleted]

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail like Telegram would."""
        text = description or {
            429: "Too Many Requests: retry after",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
        }.get(status, "")
        self._failures[method].append(Failure(status, text, retry_after, times))

    def lose_replies(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are carried out, but the connection drops
        before the reply: the bot cannot know whether its request arrived."""
        self._lost_replies[method] += times

    def block(self, user_id: int) -> None:
        """The user blocks the bot: every send to them answers 403 from now on."""
        self._blocked.add(user_id)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    async def wait_for_change(
        self, message: Sent, before: str | None, timeout: float = 5.0
    ) -> None:
        """Until the bot has edited ``message`` away from the text ``before``."""
        await self.wait_for(lambda: message.text != before, timeout)

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (the bot works asynchronously)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.01)

    # --- the HTTP side ---------------------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = next(self._update_ids)
        if self.push_to is not None:
            self.push_to(update)
            return
        self._updates.append(update)
        self._new_update.set()

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        content = self.files.get(path.removeprefix("documents/"))
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            return _error(failure.status, failure.description, failure.retry_after)
        if method in self.unsupported:
            return _error(404, "Not Found: method not found")
        chat_id = params.get("chat_id")
        if chat_id in self._blocked and method.startswith(("send", "edit")):
            return _error(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if self.latency and method.startswith("send"):
            await asyncio.sleep(self.latency)
        try:
            result = await handler(params)
        except Refused as exc:
            self.bad_requests.append((method, exc.description))
            return _error(400, f"Bad Request: {exc.description}")
        if self._lost_replies.get(method):
            # Done on "Telegram's" side, but the reply never reaches the bot.
            self._lost_replies[method] -= 1
            if request.transport is not None:
                request.transport.close()
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Staff Pulse",
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), timeout=min(float(params.get("timeout") or 0), 1.0)
                )
        return self._updates[: int(params.get("limit") or 100)]

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> bool:
        return True

    async def _m_setWebhook(self, _: dict[str, Any]) -> bool:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        key = f"{params.get('language_code', '')}:{json.dumps(params.get('scope'))}"
        self.commands[key] = params.get("commands")
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.strict:
            check_text(params.get("text"), params.get("parse_mode"), MESSAGE_LIMIT, required=True)
            check_keyboard(params.get("reply_markup"), int(params["chat_id"]))
        return self._keep(params, params.get("text"), "text")

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        check_text(params.get("caption"), params.get("parse_mode"), CAPTION_LIMIT)
        return self._keep(params, params.get("caption"), "photo")

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        check_text(params.get("caption"), params.get("parse_mode"), CAPTION_LIMIT)
        return self._keep(params, params.get("caption"), "document")

    def _keep(self, params: dict[str, Any], text: str | None, kind: str) -> dict[str, Any]:
        sent = Sent(
            int(params["chat_id"]),
            next(self._message_ids),
            text,
            params.get("reply_markup"),
            params.get("parse_mode"),
            kind=kind,
        )
        self.messages[sent.chat_id].append(sent)
        return self._message_json(sent)

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        sent = self._find(int(params["chat_id"]), int(params["message_id"]))
        if sent is None or sent.deleted:
            raise Refused("message to edit not found")
        if self.strict:
            check_text(params.get("text"), params.get("parse_mode"), MESSAGE_LIMIT, required=True)
            check_keyboard(params.get("reply_markup"), sent.chat_id)
        unchanged = (
            params.get("text") == sent.text and params.get("reply_markup") == sent.reply_markup
        )
        if self.strict and unchanged:
            raise Refused(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        sent.history.append(sent.text or "")
        sent.text = params.get("text")
        sent.reply_markup = params.get("reply_markup")
        sent.parse_mode = params.get("parse_mode")
        return self._message_json(sent)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        sent = self._find(int(params["chat_id"]), int(params["message_id"]))
        if sent is None or sent.deleted:
            raise Refused("message to edit not found")
        check_keyboard(params.get("reply_markup"), sent.chat_id)
        if params.get("reply_markup") == sent.reply_markup:
            raise Refused("message is not modified")
        sent.reply_markup = params.get("reply_markup")
        return self._message_json(sent)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        sent = self._find(int(params["chat_id"]), int(params["message_id"]))
        if sent is None or sent.deleted:
            raise Refused("message to delete not found")
        sent.deleted = True
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params["callback_query_id"])
        issued = query_id in self._issued_callbacks
        if self.strict and (not issued or query_id in self.answered_callbacks):
            # Telegram takes one answer per button press.
            raise Refused("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > CALLBACK_ANSWER_LIMIT:
            raise Refused("MESSAGE_TOO_LONG")
        self.answered_callbacks[query_id] = params
        return True

    async def _m_leaveChat(self, params: dict[str, Any]) -> bool:
        self.left_chats.append(int(params["chat_id"]))
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(self.files.get(file_id, b"")),
            "file_path": f"documents/{file_id}",
        }

    def _find(self, chat_id: int, message_id: int) -> Sent | None:
        return next((m for m in self.messages[chat_id] if m.message_id == message_id), None)

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        result: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private"},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Staff Pulse"},
        }
        if sent.text is not None:
            result["text"] = sent.text
        if sent.reply_markup:
            result["reply_markup"] = sent.reply_markup
        return result


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    params: dict[str, Any] = {}
    for name, value in form.items():
        if isinstance(value, web.FileField):  # an uploaded file
            params[name] = value.filename
            continue
        if not isinstance(value, str):
            continue
        params[name] = json.loads(value) if name in _JSON_FIELDS else value
    for name, value in request.query.items():
        params.setdefault(name, json.loads(value) if name in _JSON_FIELDS else value)
    return params


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def serve_in_subprocess(token: str) -> tuple[multiprocessing.process.BaseProcess, int]:
    """Run a LocalBotApi in a process of its own (for benchmarks: the server then does not take
    the bot's CPU). Returns the process (terminate it when done) and its port."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    process = context.Process(target=_serve_forever, args=(token, ports), daemon=True)
    process.start()
    return process, ports.get(timeout=30)


def _serve_forever(token: str, ports: multiprocessing.Queue[int]) -> None:
    async def main() -> None:
        async with LocalBotApi(token) as api:
            ports.put(api.port)
            await asyncio.Event().wait()

    asyncio.run(main())
