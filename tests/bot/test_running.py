"""Running the bot: webhook secret check, command menu, degrading when a method is missing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.commands import set_commands
from bot.polling import WebhookServer
from local_bot_api import LocalBotApi
from survey.enrolment import create_unit, enrol_member
from survey.installation import initialise
from survey.invites import create_invite
from survey.settings import SurveySettings
from survey.storage import Database
from survey.storage.models import Role
from tests.bot.conftest import make_application


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def application(db, keys, settings):
    async with LocalBotApi() as api:
        yield make_application(db, keys, settings, api), api


async def test_webhook_refuses_requests_without_the_secret(application) -> None:
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
        server = WebhookServer(app, "s3cret-Value", port=port)
        await server.start("https://example.invalid/telegram")
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
                # The answer to Telegram comes after the handler: the reply is already sent.
                assert "/checkin" in api.texts(77)[0]
        finally:
            await server.stop()
            await app.stop()


async def test_command_menu_per_language_and_role_and_missing_method_is_tolerated(
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


def _installation(tmp_path: Path) -> str:
    """An initialised data directory with one unit; returns a worker invite code."""
    settings = SurveySettings(_env_file=None, data_dir=tmp_path / "data")
    db = Database.from_settings(settings)
    initialise(settings, db)
    unit = create_unit(db, "Team Norr")
    invite = create_invite(
        db, unit_id=unit.id, role=Role.WORKER, expires_in=timedelta(days=1), max_uses=5
    )
    db.dispose()
    return invite.token


def _pulse_run(
    tmp_path: Path,
    token: str,
    api_url: str,
    file_url: str,
    more: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.Popen:
    """`pulse run` as an operator starts it: the installed command, in its own process."""
    env = {
        **os.environ,
        "PULSE_DATA_DIR": str(tmp_path / "data"),
        "PULSE_BOT_TOKEN": token,
        "PULSE_BOT_API_URL": api_url,
        "PULSE_BOT_FILE_URL": file_url,
        "PULSE_TICK_SECONDS": "3600",
        **(more or {}),
    }
    env.pop("PULSE_DATABASE_URL", None)
    pulse = Path(sys.executable).with_name("pulse")
    return subprocess.Popen(
        [str(pulse), "run", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def _stop(process: subprocess.Popen, signal_it: bool = True) -> tuple[int, str]:
    """Stop it (or, with signal_it=False, wait for it to exit by itself); code and output."""
    if signal_it and process.poll() is None:
        process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 30)
    output = (process.stdout.read() + process.stderr.read()).decode()  # type: ignore[union-attr]  # both are PIPEs
    return code, output


async def test_pulse_run_serves_and_stops_cleanly(tmp_path: Path) -> None:
    """A separate process polling the local Bot API server; it answers a worker, and SIGTERM
    stops it with exit code 0."""
    code = _installation(tmp_path)
    async with LocalBotApi() as api:
        process = _pulse_run(tmp_path, api.token, api.base_url, api.base_file_url)
        try:
            api.send_text(9_100_000_001, f"/start {code}", language="en")
            await api.wait_for(lambda: len(api.texts(9_100_000_001)) >= 2, timeout=30)
            assert "Welcome" in api.texts(9_100_000_001)[0]
        finally:
            exit_code, output = await _stop(process)
        assert exit_code == 0, output
        assert "Traceback" not in output
        assert api.token not in output


async def test_pulse_run_with_a_rejected_token_says_so_in_one_line(tmp_path: Path) -> None:
    _installation(tmp_path)
    async with LocalBotApi() as api:
        wrong = f"{api.bot_id}:{'x' * 35}"
        process = _pulse_run(tmp_path, wrong, api.base_url, api.base_file_url)
        exit_code, output = await _stop(process, signal_it=False)
    assert exit_code == 2, output
    assert "rejected PULSE_BOT_TOKEN" in output
    assert "Traceback" not in output
    assert wrong not in output
    assert "x" * 35 not in output
    assert "bot running" not in output  # said only once Telegram has answered
    assert len(output.strip().splitlines()) == 1


async def test_pulse_run_with_a_token_of_the_wrong_form_stops_before_calling_telegram(
    tmp_path: Path,
) -> None:
    """`PULSE_BOT_TOKEN=nonsense pulse run` said "bot running" and retried for ever."""
    _installation(tmp_path)
    async with LocalBotApi() as api:
        process = _pulse_run(tmp_path, "nonsense", api.base_url, api.base_file_url)
        exit_code, output = await _stop(process, signal_it=False)
        assert api.calls == []  # nothing was sent anywhere
    assert exit_code == 2, output
    assert output.strip() == (
        "Invalid value for PULSE_BOT_TOKEN: does not look like a bot token (digits, a colon and "
        "about 35 letters, as @BotFather gives it)"
    )


async def test_pulse_run_waits_for_an_unreachable_bot_api_and_then_serves(tmp_path: Path) -> None:
    """Telegram (here: the local server) is down when the bot starts: it says so, waits with
    backoff instead of exiting, and serves once the server is up."""
    code = _installation(tmp_path)
    port = _free_port()
    token = f"{1_234_567_890}:{'t' * 35}"
    base = f"http://127.0.0.1:{port}"
    process = _pulse_run(tmp_path, token, f"{base}/bot", f"{base}/file/bot")
    waited = ""
    try:
        # Nothing listens yet: the first attempts fail, and it says so on stderr.
        while "trying again in 2 s" not in waited:
            line = await asyncio.wait_for(
                asyncio.to_thread(process.stderr.readline),  # type: ignore[union-attr]  # a PIPE
                timeout=60,
            )
            assert line, f"pulse run exited instead of waiting: {waited}"
            waited += line.decode()
        assert process.poll() is None, "pulse run gave up instead of waiting"
        async with LocalBotApi(token=token, port=port) as api:
            api.send_text(9_100_000_002, f"/start {code}", language="en")
            await api.wait_for(lambda: len(api.texts(9_100_000_002)) >= 2, timeout=60)
    finally:
        exit_code, rest = await _stop(process)
    output = waited + rest
    assert exit_code == 0, output
    assert "not reachable" in output
    assert "trying again in" in output
    assert output.index("bot running") > output.index("not reachable")
    assert "Traceback" not in output
    assert token not in output


async def test_pulse_run_on_an_older_schema_says_to_migrate(tmp_path: Path) -> None:
    from survey.storage.migrate import migrate_to

    _installation(tmp_path)
    settings = SurveySettings(_env_file=None, data_dir=tmp_path / "data")
    db = Database.from_settings(settings)
    migrate_to(db.engine, "0005_release_groups")  # an upgrade installed, `pulse migrate` not run
    db.dispose()
    async with LocalBotApi() as api:
        process = _pulse_run(tmp_path, api.token, api.base_url, api.base_file_url)
        exit_code, output = await _stop(process, signal_it=False)
    assert exit_code == 2, output
    assert "run `pulse migrate` first" in output
    assert "Traceback" not in output


async def test_pulse_run_where_there_is_no_database_says_so_and_creates_none(
    tmp_path: Path,
) -> None:
    async with LocalBotApi() as api:
        process = _pulse_run(tmp_path, api.token, api.base_url, api.base_file_url)
        exit_code, output = await _stop(process, signal_it=False)
    assert exit_code == 2, output
    assert "run `pulse init` first" in output
    assert not (tmp_path / "data").exists()


def _open_a_round(tmp_path: Path) -> int:
    """A round open now for the installation's unit, with two questions."""
    from datetime import UTC, datetime

    from survey.installation import key_ring
    from survey.questions import LockedItem
    from survey.rounds import open_round

    settings = SurveySettings(_env_file=None, data_dir=tmp_path / "data")
    db = Database.from_settings(settings)
    now = datetime.now(UTC)
    survey_round = open_round(
        db,
        key_ring(settings),
        settings,
        unit_id=1,
        items=[
            LockedItem(key="stress", options=(1, 2, 3, 4, 5)),
            LockedItem(key="support", options=(1, 2, 3, 4, 5)),
        ],
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=2),
    )
    db.dispose()
    return survey_round.id


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_pulse_run_serves_the_checkin_page_beside_the_bot(tmp_path: Path, mode: str) -> None:
    """With PULSE_PUBLIC_URL, `pulse run` serves the page from its own loop (in webhook mode the
    same server takes Telegram's updates at /telegram); /checkin opens it; an answer sent from
    it is stored through the bot's intake."""
    from local_bot_api.web_app import init_data_for

    code = _installation(tmp_path)
    round_id = _open_a_round(tmp_path)
    port = _free_port()
    more = {
        "PULSE_PUBLIC_URL": "https://pulse.example.test",
        "PULSE_WEB_LISTEN": f"127.0.0.1:{port}",
    }
    args: tuple[str, ...] = ()
    if mode == "webhook":
        more |= {
            "PULSE_WEBHOOK_URL": "https://pulse.example.test/telegram",
            "PULSE_WEBHOOK_SECRET": "s3cret-for-the-test",
        }
        args = ("--webhook",)
    user = 9_100_000_002
    async with LocalBotApi() as api, httpx.AsyncClient() as http:
        process = _pulse_run(tmp_path, api.token, api.base_url, api.base_file_url, more, args)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):  # until the server listens
                try:
                    if (await http.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            updates: list[dict] = []
            if mode == "webhook":
                api.push_to = updates.append  # Telegram posts them to the webhook instead
            api.send_text(user, f"/start {code}", language="sv")
            api.send_text(user, "/checkin", language="sv")
            for update in updates:  # with the secret, to the same server as the page
                answer = await http.post(
                    base + "/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-for-the-test"},
                )
                assert answer.status_code == 200
            await api.wait_for(lambda: api.messages[user] and api.last(user).web_apps(), timeout=30)
            ((_, url),) = api.last(user).web_apps()
            assert url == f"https://pulse.example.test/checkin?round={round_id}&lang=sv"
            page = await http.get(base + url.removeprefix("https://pulse.example.test"))
            assert page.status_code == 200
            assert "Veckans frågor" in page.text
            body = {"init_data": init_data_for(user, api.token), "round": round_id}
            opened = (await http.post(base + "/checkin/open", json=body)).json()
            assert [item["key"] for item in opened["items"]] == ["stress", "support"]
            sent = await http.post(
                base + "/checkin/send", json={**body, "answers": {"stress": 1, "support": 2}}
            )
            assert sent.status_code == 200, sent.text
            again = await http.post(base + "/checkin/open", json=body)
            assert again.json()["state"] == "answered"
        finally:
            exit_code, output = await _stop(process)
        assert exit_code == 0, output
        assert "check-in page on 127.0.0.1" in output
        assert "Traceback" not in output
        assert api.token not in output
