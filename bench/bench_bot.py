"""Benchmark of the bot against the local Bot API server (no Telegram, no network).

    python bench/bench_bot.py [--members 2000] [--presses 300]

Targets from the bot issue:
- invitations sent per second with the rate limiter lifted: >= 1,000/s (Telegram's ~30/s is
  then the only real limit);
- one check-in button press costs at most 2x a bare python-telegram-bot echo handler that does
  the same Telegram calls (answer the press, edit the message), measured in the same run;
- with a second of latency per send (a far-away Telegram), enough sends in flight to reach
  Telegram's 30 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import delete
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_core import _enrol_bulk
from bench.report import publish
from bot.app import Services, build_application
from bot.checkin import CheckinState
from bot.sender import deliver
from bot.settings import BotSettings
from local_bot_api import LocalBotApi, serve_in_subprocess
from survey.claims import Kind
from survey.crypto import KeyPaths, KeyRing, generate_keys
from survey.enrolment import create_unit
from survey.intake import SubmissionIntake
from survey.questions import import_question_set, load_question_set_file, load_version
from survey.questions.locked import lock_items
from survey.rounds import open_round
from survey.settings import SurveySettings
from survey.storage import Database, make_engine, upgrade_to_head
from survey.storage.models import Delivery

SETS = Path(__file__).resolve().parents[1] / "config" / "question_sets"


def _setup(workdir: Path, members: int):
    settings = SurveySettings(_env_file=None, data_dir=workdir)
    db = Database(make_engine(f"sqlite:///{workdir / 'pulse.sqlite3'}", settings))
    upgrade_to_head(db.engine)
    paths = KeyPaths(workdir / "keys", workdir / "keys")
    generate_keys(paths)
    keys = KeyRing(paths)
    import_question_set(db, load_question_set_file(SETS / "social-work-weekly.yaml"))
    row, question_set = load_version(db, "social-work-weekly")
    unit = create_unit(db, "Enheten").id
    member_ids = _enrol_bulk(db, keys, [unit], members)
    now = datetime.now(UTC)
    survey_round = open_round(
        db,
        keys,
        settings,
        unit_id=unit,
        items=lock_items([(row.id, question_set)], 0),
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=1),
        question_set_versions=[row.id],
    )
    return settings, db, keys, survey_round, member_ids


async def bench(args: argparse.Namespace, figures: dict[str, object]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="pulse-bench-bot-") as tmp:
        settings, db, keys, survey_round, _ = _setup(Path(tmp), args.members)
        services = Services(db, keys, settings, SubmissionIntake(db, keys))
        # Invitations: the server in a process of its own, so its CPU is not counted as ours.
        token = "1000000001:" + "b" * 35
        server, port = serve_in_subprocess(token)
        try:
            application = build_application(
                BotSettings(
                    _env_file=None,
                    bot_token=SecretStr(token),
                    bot_api_url=f"http://127.0.0.1:{port}/bot",
                ),
                services,
                rate_limit=False,
            )
            async with application:
                start = time.perf_counter()
                report = await deliver(application, survey_round, Kind.INVITATION)
                elapsed = time.perf_counter() - start
                # Reference: the library alone, sending plain texts as fast as it can.
                bare = await _bare_sends(application, args.members)
        finally:
            server.terminate()
        assert report.sent == args.members, report
        rate = report.sent / elapsed
        figures[f"invitations to {args.members} members (s)"] = round(elapsed, 2)
        figures["invitations per second, rate limiter lifted"] = round(rate)
        figures["reference: bare python-telegram-bot send_message, same server (/s)"] = round(bare)

        # Button presses, processed the way polling hands them over, against an in-process
        # server (the echo handler below makes the same calls to the same server).
        # The presses are replayed with query ids the server never issued, and the echo edits
        # one message to the same text again and again: a strict server (as Telegram) refuses
        # both, and the error path would be timed instead. The tests keep the bot strict-clean.
        with db.session() as session:
            session.execute(delete(Delivery))
        async with LocalBotApi(strict=False) as api:
            application = _application(services, api.token, api.base_url, api.base_file_url)
            async with application:
                await deliver(application, survey_round, Kind.INVITATION)
                user = 6_000_000_000  # the first enrolled member (bench_core numbering)
                message = api.last(user)
                state = CheckinState(survey_round.id, ())
                data = keys.button_signer().sign(state.encode("a1"), user)
                press = _press_update(application, api, user, message, data)
                checkin = await _time(application, press, args.presses)
                echo_app = Application.builder().token(api.token).base_url(api.base_url).build()
                echo_app.add_handler(CallbackQueryHandler(_echo))
                async with echo_app:
                    echo = await _time(
                        echo_app, _press_update(echo_app, api, user, message, "x"), args.presses
                    )
        figures["check-in button press (ms)"] = round(checkin * 1000, 2)
        figures["invitations per second at 1 s Telegram latency"] = await _with_latency(
            Path(tmp) / "latency", 240
        )
        figures["bare echo handler, same Telegram calls (ms)"] = round(echo * 1000, 2)
        figures["press / echo"] = round(checkin / echo, 2)
        db.dispose()
    return rate, checkin / echo


def _application(services: Services, token: str, api_url: str, file_url: str):
    """The real bot towards a local Bot API server, rate limiter lifted."""
    return build_application(
        BotSettings(
            _env_file=None,
            bot_token=SecretStr(token),
            bot_api_url=api_url,
            bot_file_url=file_url,
        ),
        services,
        rate_limit=False,
    )


async def _with_latency(workdir: Path, members: int) -> float:
    """Each send takes a second, as from a far-away Telegram: sends in flight, not our CPU,
    decide the rate (Telegram allows about 30/s)."""
    workdir.mkdir()
    settings, db, keys, survey_round, _ = _setup(workdir, members)
    services = Services(db, keys, settings, SubmissionIntake(db, keys))
    async with LocalBotApi() as api:
        api.latency = 1.0
        application = _application(services, api.token, api.base_url, api.base_file_url)
        async with application:
            start = time.perf_counter()
            report = await deliver(application, survey_round, Kind.INVITATION)
            elapsed = time.perf_counter() - start
    db.dispose()
    assert report.sent == members, report
    return round(members / elapsed, 1)


async def _bare_sends(application, count: int) -> float:
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            chat = 9_000_000 + queue.pop()
            await application.bot.send_message(chat, "x")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(4)))
    return count / (time.perf_counter() - start)


def _press_update(application, api, user, message, data):
    def make(number: int) -> Update:
        return Update.de_json(
            {
                "update_id": 10_000 + number,
                "callback_query": {
                    "id": str(number),
                    "from": api.user(user),
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": message.message_id,
                        "date": 0,
                        "chat": {"id": message.chat_id, "type": "private"},
                        "text": message.text or "",
                    },
                },
            },
            application.bot,
        )

    return make


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text("echo")


async def _time(application, make, presses: int) -> float:
    for number in range(20):  # warm up caches and connections
        await application.process_update(make(number))
    timings = []
    for number in range(presses):
        start = time.perf_counter()
        await application.process_update(make(1000 + number))
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    rate, ratio = asyncio.run(bench(args, figures))
    latency_rate = figures["invitations per second at 1 s Telegram latency"]
    assert isinstance(latency_rate, int | float)
    publish(
        "Staff Pulse bot benchmark",
        figures,
        [
            (f"invitations >= 1,000/s ({round(rate)}/s)", rate >= 1000),
            (f"button press <= 2x an echo handler ({ratio:.2f}x)", ratio <= 2),
            (
                "invitations >= 30/s at 1 s latency "
                f"({figures['invitations per second at 1 s Telegram latency']}/s)",
                latency_rate >= 30,
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
