"""Two real `pulse run` processes on one PostgreSQL, as behind one reverse proxy: both serve
the check-in page and accept check-ins; only the leader sends the invitations, once each; a
check-in sent to one process is "already answered" at the other.

The proxy's round-robin is played by the test: every other member's requests go to the other
process. Both run in webhook mode (two pollers of one bot would be refused by Telegram), with
the webhook served by the same web server as the page.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import func, select

from local_bot_api import LocalBotApi
from local_bot_api.web_app import init_data_for
from survey.enrolment import enrol_member
from survey.storage import Database
from survey.storage.models import Participation, PoolSubmission
from tests.bot.conftest import org as org  # the fixture: a unit with the default set open
from tests.bot.test_two_leaders import _pulse_run as run_in_a_process

USERS = [6_500_000_000 + i for i in range(40)]
PUBLIC = "https://pulse.example.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pulse_run(
    tmp_path: Path, name: str, db: Database, settings, api: LocalBotApi, port: int
) -> subprocess.Popen:
    """A `pulse run --webhook` whose page and webhook share one server on ``port``."""
    more = {
        "PULSE_PUBLIC_URL": PUBLIC,
        "PULSE_WEB_LISTEN": f"127.0.0.1:{port}",
        "PULSE_WEBHOOK_URL": PUBLIC + "/telegram",
    }
    return run_in_a_process(tmp_path, name, db, settings, api, webhook=True, more=more)


async def _listening(http: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        try:
            async with http.get(base + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never answered")


def _stored(db: Database) -> tuple[int, int]:
    with db.session() as session:
        pool = session.exec(select(func.count()).select_from(PoolSubmission)).one()
        marks = session.exec(select(func.count()).select_from(Participation)).one()
    return pool, marks


@pytest.mark.parametrize(
    "db", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_both_processes_accept_checkins_and_only_the_leader_invites(
    tmp_path, db, keys, settings, org
) -> None:
    for user in USERS:
        enrol_member(db, keys, telegram_user_id=user, chat_id=user, unit_id=org["unit"].id)
    ports = {"a": _free_port(), "b": _free_port()}
    async with LocalBotApi() as api, aiohttp.ClientSession() as http:
        processes = {
            name: _pulse_run(tmp_path, name, db, settings, api, port)
            for name, port in ports.items()
        }
        bases = [f"http://127.0.0.1:{port}" for port in ports.values()]
        try:
            for base in bases:
                await _listening(http, base)
            await api.wait_for(lambda: all(api.messages[u] for u in USERS), timeout=60)
            await asyncio.sleep(2.5)  # two more ticks: the other process sends nothing
            assert all(len(api.messages[u]) == 1 for u in USERS)
            round_id = org["round"].id

            async def check_in(index: int, user: int) -> int:
                ((_, url),) = api.last(user).web_apps()
                assert url == f"{PUBLIC}/checkin?round={round_id}&lang=sv"
                base = bases[index % 2]
                body = {"init_data": init_data_for(user, api.token), "round": round_id}
                async with http.post(base + "/checkin/open", json=body) as opened:
                    items = (await opened.json())["items"]
                answers = {item["key"]: 1 for item in items}
                async with http.post(
                    base + "/checkin/send", json={**body, "answers": answers}
                ) as sent:
                    return sent.status

            statuses = await asyncio.gather(*(check_in(i, u) for i, u in enumerate(USERS)))
            assert statuses == [200] * len(USERS)
            assert _stored(db) == (len(USERS), len(USERS))
            # The same check-in replayed at the other process: already answered there.
            user = USERS[0]
            body = {
                "init_data": init_data_for(user, api.token),
                "round": round_id,
                "answers": {"stress": 1},
            }
            async with http.post(bases[1] + "/checkin/send", json=body) as replay:
                assert replay.status == 409
                assert (await replay.json())["state"] == "answered"
            assert _stored(db) == (len(USERS), len(USERS))
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for name, process in processes.items():
                code = await asyncio.to_thread(process.wait, 30)
                output = (tmp_path / f"{name}.log").read_text()
                assert code == 0, output
                assert "Traceback" not in output, output
