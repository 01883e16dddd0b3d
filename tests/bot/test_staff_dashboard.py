"""/dashboard in the chat: staff get the dashboard as a Mini App button and a one-time login
link for a browser (no link preview); workers get nothing; without a public address, words."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from local_bot_api import LocalBotApi
from survey.staff_access import LoginError, redeem_login_link
from tests.bot.conftest import make_application, running
from tests.bot.loop_world import MANAGER_A, WORKER_B
from tests.bot.loop_world import tree as tree  # the fixture

PUBLIC = "https://pulse.example.test"


def _application(db, keys, settings, api: LocalBotApi, public_url: str | None):
    return make_application(db, keys, settings, api, public_url=public_url)


async def test_staff_get_the_dashboard_button_and_a_one_time_link(db, keys, settings, tree) -> None:
    async with LocalBotApi() as api:
        async with running(_application(db, keys, settings, api, PUBLIC)):
            api.send_text(MANAGER_A, "/dashboard", language="en")
            await api.wait_for(lambda: api.messages[MANAGER_A])
            message = api.last(MANAGER_A)
            assert message.web_apps() == [("Open the dashboard", f"{PUBLIC}/dashboard")]
            found = re.search(
                re.escape(PUBLIC) + r"/login/([A-Za-z0-9_-]{40,})", message.text or ""
            )
            assert found is not None
            assert "Do not pass it on" in (message.text or "")
            sent = [
                p for m, p in api.calls if m == "sendMessage" and int(p["chat_id"]) == MANAGER_A
            ]
            preview = sent[-1]["link_preview_options"]
            assert (json.loads(preview) if isinstance(preview, str) else preview) == {
                "is_disabled": True
            }
            member, name = redeem_login_link(db, keys, found.group(1), datetime.now(UTC))
            assert member.unit_id == tree["a"].id
            assert name  # the manager's Telegram name, for the access log
            with pytest.raises(LoginError):
                redeem_login_link(db, keys, found.group(1), datetime.now(UTC))
            api.send_text(WORKER_B, "/dashboard", language="en")
            await api.wait_for(lambda: api.messages[WORKER_B])
            assert api.last(WORKER_B).web_apps() == []
            assert "for managers" in (api.last(WORKER_B).text or "")
        assert api.bad_requests == []


async def test_without_a_public_address_the_dashboard_is_explained(
    db, keys, settings, tree
) -> None:
    async with LocalBotApi() as api, running(_application(db, keys, settings, api, None)):
        api.send_text(MANAGER_A, "/dashboard", language="en")
        await api.wait_for(lambda: api.messages[MANAGER_A])
        assert "PULSE_PUBLIC_URL" in (api.last(MANAGER_A).text or "")
        assert api.last(MANAGER_A).web_apps() == []
