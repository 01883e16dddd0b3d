"""Running the bot: webhook secret check, command menu, degrading when a method is missing."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from bot.commands import set_commands
from bot.fake_api import FakeBotApi
from survey.enrolment import create_unit, enrol_member
from survey.storage.models import Role
from tests.bot.conftest import make_application


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def application(db, keys, settings):  # type: ignore[no-untyped-def]
    async with FakeBotApi() as api:
        yield make_application(db, keys, settings, api), api


async def test_webhook_refuses_requests_without_the_secret(application) -> None:  # type: ignore[no-untyped-def]
    app, api = application
    port = _free_port()
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 77, "type": "private"},
            "from": {"id": 77, "is_bot": False, "first_name": "A", "language_code": "en"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    async with app:
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            secret_token="s3cret-Value",
            webhook_url="https://example.invalid/telegram",
        )
        try:
            url = f"http://127.0.0.1:{port}/telegram"
            async with httpx.AsyncClient() as client:
                without = await client.post(
                    url, content=json.dumps(update), headers={"Content-Type": "application/json"}
                )
                wrong = await client.post(
                    url,
                    content=json.dumps(update),
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": "guess",
                    },
                )
                assert (without.status_code, wrong.status_code) == (403, 403)
                assert api.texts(77) == []  # changed nothing
                right = await client.post(
                    url,
                    content=json.dumps(update),
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": "s3cret-Value",
                    },
                )
                assert right.status_code == 200
            await api.wait_for(lambda: api.texts(77))
            assert "/checkin" in api.texts(77)[0]
        finally:
            await app.updater.stop()
            await app.stop()


async def test_command_menu_per_language_and_role_and_missing_method_is_tolerated(  # type: ignore[no-untyped-def]
    application, db, keys
) -> None:
    app, api = application
    unit = create_unit(db, "IFO")
    enrol_member(
        db, keys, telegram_user_id=31, chat_id=31, unit_id=unit.id, role=Role.ADMIN, language="en"
    )
    async with app:
        await set_commands(app)
        worker_menus = {k: v for k, v in api.commands.items() if k.endswith(":null")}
        assert {key.split(":")[0] for key in worker_menus} == {"sv", "en"}
        assert any(c["command"] == "checkin" for c in worker_menus["en:null"])
        admin_menu = next(v for k, v in api.commands.items() if '"chat_id": 31' in k)
        assert {c["command"] for c in admin_menu} >= {"report", "invite", "rounds"}
        api.commands.clear()
        api.unsupported.add("setMyCommands")
        await set_commands(app)  # logged, not raised
        assert api.commands == {}
