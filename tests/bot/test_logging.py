"""P4 in the logs: the worker, manager and admin flows at DEBUG leave no token, id, name, invite
code, callback data or answer in the log - python-telegram-bot, httpx, httpcore, aiohttp and
SQLAlchemy included."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from local_bot_api import LocalBotApi
from survey.enrolment import enrol_member
from survey.invites import create_invite
from survey.logs import configure_logging, redact
from survey.storage.models import Role
from tests.bot.conftest import answer_every_question, make_application, running

WORKER, MANAGER, ADMIN = 5_123_456_789, 7_000_000_001, 7_000_000_002
NAME = "Annika-Lovisa"


async def test_every_flow_at_debug_leaves_nothing_identifying_in_the_log(
    db, keys, settings, org, tmp_path: Path, monkeypatch
) -> None:
    log_file = tmp_path / "pulse.log"
    handler = configure_logging("DEBUG", "json", log_file)
    original = LocalBotApi.user

    def named(self, user_id, language="sv", first_name=NAME):
        return original(self, user_id, language, first_name)

    monkeypatch.setattr(LocalBotApi, "user", named)
    enrol_member(
        db,
        keys,
        telegram_user_id=MANAGER,
        chat_id=MANAGER,
        unit_id=org["unit"].id,
        role=Role.MANAGER,
        language="en",
    )
    enrol_member(
        db,
        keys,
        telegram_user_id=ADMIN,
        chat_id=ADMIN,
        unit_id=org["unit"].id,
        role=Role.ADMIN,
        language="en",
    )
    staff_invite = create_invite(
        db, unit_id=org["unit"].id, role=Role.MANAGER, expires_in=timedelta(hours=1), max_uses=1
    )
    pressed: list[str] = []
    try:
        async with LocalBotApi() as api, running(make_application(db, keys, settings, api)):
            api.send_text(WORKER, f"/start {org['invite'].token}", language="en")
            await api.wait_for(lambda: len(api.texts(WORKER)) >= 2)
            api.send_text(WORKER, "/checkin", language="en")
            await api.wait_for(lambda: "Question 1 of" in (api.last(WORKER).text or ""))
            message = api.last(WORKER)
            pressed += await answer_every_question(api, WORKER, message)
            send = next(data for label, data in message.buttons() if "Send" in label)
            pressed.append(send)
            api.press(WORKER, message, send)
            await api.wait_for(lambda: any("Thank" in t for t in api.texts(WORKER)))
            api.send_text(MANAGER, "/report", language="en")
            await api.wait_for(lambda: api.texts(MANAGER))
            api.send_text(ADMIN, f"/invite {org['unit'].id} manager", language="en")
            await api.wait_for(lambda: api.texts(ADMIN))
            api.send_text(9_999_999_999, f"/start {staff_invite.token}", language="en")
            await api.wait_for(lambda: api.texts(9_999_999_999))
            token = api.token
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        logging.getLogger().setLevel(logging.WARNING)
    log = log_file.read_text()
    assert "sendMessage" in log
    assert "getUpdates" in log
    secrets_seen = [
        token,
        token.split(":")[1],
        str(WORKER),
        str(MANAGER),
        str(ADMIN),
        "9999999999",
        NAME,
        org["invite"].token,
        staff_invite.token,
        *pressed,
        "c1|",
    ]
    leaked = [s for s in secrets_seen if s in log]
    assert leaked == [], leaked


def test_redaction_of_typical_library_lines() -> None:
    token = "123456789:AAHk3bYxmpl_-QaTokenThatIsLongEnough"
    line = (
        f"HTTP Request: POST https://api.telegram.org/bot{token}/sendMessage "
        "Update(message=Message(chat=Chat(first_name='Ann', id=5123456789), "
        "text='/start abcDEF123_-abcDEF123_-abcDEF123_-abc'), "
        "callback_query=CallbackQuery(data='c1|12|3a4|s|Zx9'))"
    )
    clean = redact(line)
    for secret in (token, "Ann", "5123456789", "abcDEF123", "c1|12|3a4"):
        assert secret not in clean, secret
    assert "sendMessage" in clean
    assert "HTTP Request" in clean


def test_a_handler_added_after_set_up_gets_redacted_records(tmp_path) -> None:
    """An operator adds a handler of their own (an error tracker, journald) after `pulse` set
    up logging: its records are redacted too, message, arguments and traceback alike."""
    import logging

    from survey.logs import configure_logging

    token = "123456789:AAHk3bYxmpl_-QaTokenThatIsLongEnough"
    before = logging.getLogRecordFactory()
    configure_logging("DEBUG", file=tmp_path / "pulse.log")
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    added = Collect()
    logging.getLogger().addHandler(added)
    try:
        logger = logging.getLogger("some.library")
        logger.info("POST https://api.telegram.org/bot%s/sendMessage chat_id=%s", token, 5123456789)
        try:
            raise ValueError(f"chat 5123456789 via {token}")
        except ValueError:
            logger.exception("it failed")
    finally:
        logging.getLogger().removeHandler(added)
        logging.setLogRecordFactory(before)
    text = " ".join(
        str(part)
        for record in seen
        for part in (record.getMessage(), record.exc_text, record.exc_info, record.args)
    )
    assert len(seen) == 2
    assert token not in text
    assert "5123456789" not in text
    assert "sendMessage" in text
    assert "ValueError" in text  # what happened stays
