"""The check-in page's two requests, attacked: every bad input gets a clear answer in words and
stores nothing; a good one is stored exactly as the chat's Send stores it (P1-P3)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import func, select

from aggregation.close import close_round
from survey.crypto import Unsealer, seal_context
from survey.lifecycle import has_answered
from survey.storage import Database, make_engine
from survey.storage.models import Participation, PoolSubmission
from survey.submissions import decode_answers
from tests.web.conftest import Site, desk_for, serve
from tests.web.signing import fields_for, signed
from web.server import ADDRESS_LIMIT

#: The default world's items: behind, stress, support (1-5, required), deadlines (optional).
GOOD = {"behind": 3, "stress": 1, "support": 4, "deadlines": None}


def stored(site: Site) -> tuple[int, int]:
    """(sealed answers in the round's pool, participation marks)."""
    with site.world.db.session() as session:
        pool = session.exec(select(func.count()).select_from(PoolSubmission)).one()
        marks = session.exec(select(func.count()).select_from(Participation)).one()
    return pool, marks


async def test_a_member_opens_the_page_answers_and_is_counted_once(site: Site) -> None:
    member, user = site.world.members[0], site.world.telegram_ids[0]
    status, opened = await site.open(user)
    assert status == 200
    assert opened["state"] == "open"
    assert opened["language"] == "sv"
    assert [item["key"] for item in opened["items"]] == ["behind", "stress", "support", "deadlines"]
    assert opened["texts"]["send"] == "Skicka"
    assert [item["required"] for item in opened["items"]] == [True, True, True, False]

    status, sent = await site.send(user, GOOD)
    assert (status, sent["state"]) == (200, "sent")
    assert "Tack" in sent["message"]
    assert stored(site) == (1, 1)
    assert has_answered(site.world.db, site.world.round.id, member)

    # The option numbers became the items' values, sealed as the chat would seal them.
    with site.world.db.session() as session:
        pooled = session.exec(select(PoolSubmission)).one()
    unsealer = Unsealer(site.world.keys.report_private_key(site.world.round.report_key_id))
    plaintext = unsealer.unseal(pooled.sealed, seal_context(site.world.round.id, member.unit_id))
    assert decode_answers(plaintext) == {"behind": 4, "stress": 2, "support": 5}


async def test_opening_again_after_sending_says_already_answered(site: Site) -> None:
    user = site.world.telegram_ids[1]
    assert (await site.send(user, GOOD))[0] == 200
    status, opened = await site.open(user)
    assert (status, opened["state"]) == (200, "answered")
    assert opened["message"] == "Du har redan svarat på veckans frågor. Tack!"
    assert "items" not in opened


async def test_a_replay_of_the_send_stores_nothing_more(site: Site) -> None:
    user = site.world.telegram_ids[2]
    body = {"init_data": site.init_data(user), "round": site.world.round.id, "answers": GOOD}
    assert (await site.post("/checkin/send", body))[0] == 200
    status, again = await site.post("/checkin/send", body)  # the very same request, replayed
    assert (status, again["state"]) == (409, "answered")
    assert stored(site) == (1, 1)


async def test_another_members_id_in_signed_initdata_is_forged(site: Site) -> None:
    mine, theirs = site.world.telegram_ids[0], site.world.telegram_ids[1]
    fields = fields_for(mine, datetime.now(UTC))
    genuine = signed(fields)
    # Swap the user for a colleague's and keep Telegram's hash: the signature no longer holds.
    altered = genuine.replace(f"%22id%22%3A{mine}", f"%22id%22%3A{theirs}")
    assert altered != genuine
    body = {"init_data": altered, "round": site.world.round.id, "answers": GOOD}
    status, refused = await site.post("/checkin/send", body)
    assert (status, refused["state"]) == (401, "forged")
    assert refused["message"] == "Öppna sidan från botens meddelande i Telegram."
    assert stored(site) == (0, 0)


async def test_initdata_of_another_bot_is_forged(site: Site) -> None:
    user = site.world.telegram_ids[0]
    other_bot = signed(fields_for(user, datetime.now(UTC)), token="555555:" + "B" * 35)
    status, refused = await site.post(
        "/checkin/send", {"init_data": other_bot, "round": site.world.round.id, "answers": GOOD}
    )
    assert (status, refused["state"]) == (401, "forged")
    assert stored(site) == (0, 0)


async def test_expired_initdata_is_refused_with_what_to_do(site: Site) -> None:
    user = site.world.telegram_ids[0]
    old = signed(fields_for(user, datetime.now(UTC) - timedelta(hours=1, minutes=1)))
    status, refused = await site.post(
        "/checkin/send", {"init_data": old, "round": site.world.round.id, "answers": GOOD}
    )
    assert (status, refused["state"]) == (401, "expired")
    assert "Stäng den och tryck på ”Svara” igen" in refused["message"]
    assert stored(site) == (0, 0)


async def test_a_round_that_closed_while_the_page_was_open_says_so(site: Site) -> None:
    user = site.world.telegram_ids[3]
    status, opened = await site.open(user)
    assert opened["state"] == "open"
    close_round(site.world.db, site.world.keys, site.world.round.id)
    status, refused = await site.send(user, GOOD)
    assert (status, refused["state"]) == (409, "closed")
    assert refused["message"].startswith("De här frågorna är avslutade.")
    assert stored(site) == (0, 0)


async def test_someone_not_enrolled_is_told_how_to_join(site: Site) -> None:
    status, opened = await site.open(7_000_000_123)
    assert (status, opened["state"]) == (200, "not_enrolled")
    status, refused = await site.send(7_000_000_123, GOOD)
    assert (status, refused["state"]) == (409, "not_enrolled")
    assert stored(site) == (0, 0)


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ({**GOOD, "stress": 5}, "an option number past the last"),
        ({**GOOD, "stress": -1}, "a negative option number"),
        ({**GOOD, "stress": True}, "a boolean for a number"),
        ({**GOOD, "stress": "2"}, "a string for a number"),
        ({**GOOD, "stress": 1.0}, "a float for a number"),
        ({**GOOD, "workload_free_text": 1}, "an item the round does not ask"),
        ({"behind": 1, "stress": 1}, "a required item missing"),
        (dict.fromkeys(GOOD), "everything skipped"),
        ([1, 2, 3], "not an object"),
        (None, "no answers"),
    ],
)
async def test_answers_the_form_cannot_give_are_refused_whole(
    site: Site, answers: Any, why: str
) -> None:
    status, refused = await site.send(site.world.telegram_ids[0], answers)
    assert (status, refused["state"]) == (400, "invalid"), why
    assert refused["message"] == "Svaren kunde inte sparas. Stäng sidan och öppna den igen."
    assert stored(site) == (0, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b'{"init_data": 12}', "application/json", 400),
        (b'{"init_data": "", "round": "7"}', "application/json", 400),
        (b'{"init_data": "", "round": true}', "application/json", 400),
        (b"init_data=x", "application/x-www-form-urlencoded", 415),
        (b'{"init_data": "' + b"a" * 20_000 + b'"}', "application/json", 413),
        (b"\xff\xfe{}", "application/json", 400),
    ],
)
async def test_malformed_bodies_get_a_clear_refusal(
    site: Site, body: bytes, content_type: str, status: int
) -> None:
    async with site.http.post(
        site.base + "/checkin/send", data=body, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == status
        answer = await response.json()
    assert answer["state"] == "malformed"
    assert answer["message"] == "Begäran kunde inte läsas."
    assert stored(site) == (0, 0)


async def test_a_flooding_member_is_slowed_down_and_others_are_not(make_world) -> None:
    world = make_world((6, 6))
    desk = desk_for(world, web_member_requests_per_minute=5)
    async for site in serve(desk, world):
        flooder, other = world.telegram_ids[0], world.telegram_ids[1]
        statuses = [(await site.open(flooder))[0] for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        _, refused = await site.open(flooder)
        assert refused["state"] == "busy"
        assert refused["message"] == "För många försök på en gång. Vänta en minut och försök igen."
        assert (await site.open(other))[0] == 200


async def test_a_flooding_address_is_slowed_down_without_its_address_being_kept(
    make_world,
) -> None:
    world = make_world((6, 6))
    desk = desk_for(world, web_address_requests_per_minute=4)
    async for site in serve(desk, world):
        statuses = [(await site.open(world.telegram_ids[i]))[0] for i in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        table = site_limit_table(site)
        assert "127.0.0.1" not in repr(table)
        assert all(len(key) == 16 for key in table)


def site_limit_table(site: Site) -> dict[bytes, Any]:
    """The address limiter's memory, as a memory dump would show it."""
    return dict(site.app[ADDRESS_LIMIT]._buckets)


async def test_every_response_carries_the_guard_headers_and_no_cookie(site: Site) -> None:
    user = site.world.telegram_ids[0]
    responses = [
        await site.http.get(site.base + f"/checkin?round={site.world.round.id}&lang=sv"),
        await site.http.get(site.base + "/static/checkin.js"),
        await site.http.post(site.base + "/checkin/open", json={"init_data": "x"}),
        await site.http.post(
            site.base + "/checkin/send",
            json={"init_data": site.init_data(user), "answers": GOOD, "round": None},
        ),
        await site.http.get(site.base + "/no-such-page"),
    ]
    for response in responses:
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors https://web.telegram.org" in policy
        assert "'unsafe-inline'" not in policy
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in headers["Cache-Control"] or "no-cache" in headers["Cache-Control"]
        assert "Set-Cookie" not in headers
        response.release()
    assert responses[3].status == 200  # no round given: the one open for the member
    assert [r.status for r in responses] == [200, 200, 401, 200, 404]


async def test_nothing_a_member_sent_reaches_the_log(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = site.world.telegram_ids[4]
    init_data = site.init_data(user)
    body = {"init_data": init_data, "round": site.world.round.id, "answers": GOOD}
    await site.post("/checkin/open", body)
    await site.post("/checkin/send", body)
    await site.post("/checkin/send", {**body, "init_data": init_data + "0"})
    await site.post("/checkin/send", {**body, "answers": {"stress": 99}})
    logged = "\n".join(
        record.getMessage() + repr(record.args) + str(record.exc_info) for record in caplog.records
    )
    for secret in (init_data, str(user), json.dumps(GOOD), "127.0.0.1", "hash=", "99"):
        assert secret not in logged


async def test_a_database_that_is_down_is_said_in_words_and_nothing_is_lost(
    make_world,
) -> None:
    world = make_world((6,))
    broken = Database(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    desk = desk_for(world)
    desk.db = broken
    desk.intake = type(desk.intake)(broken, world.keys)
    async for site in serve(desk, world):
        status, refused = await site.send(world.telegram_ids[0], GOOD)
        assert (status, refused["state"]) == (503, "unavailable")
        assert "inget sparades" in refused["message"]
    with world.db.session() as session:
        assert session.exec(select(func.count()).select_from(PoolSubmission)).one() == 0
