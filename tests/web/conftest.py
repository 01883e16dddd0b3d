"""The check-in page's server as `pulse run` serves it: the real aiohttp application on a free
port of 127.0.0.1, over the test's database (both engines), talked to over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from survey.intake import SubmissionIntake
from tests.conftest import World
from tests.web.signing import TOKEN, fields_for, signed
from web.checkin import CheckinDesk
from web.dashboard import DashboardDesk
from web.server import WebServer, build_web_app
from web.settings import WebSettings


@dataclass
class Site:
    base: str
    desk: CheckinDesk
    world: World
    http: aiohttp.ClientSession
    app: web.Application

    def init_data(self, user_id: int, at: datetime | None = None) -> str:
        return signed(fields_for(user_id, at or datetime.now(UTC)))

    async def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(self.base + path, json=body, **kwargs) as response:
            return response.status, await response.json()

    async def open(self, user_id: int, **more: Any) -> tuple[int, dict[str, Any]]:
        body = {"init_data": self.init_data(user_id), "round": self.world.round.id, **more}
        return await self.post("/checkin/open", body)

    async def send(self, user_id: int, answers: Any, **more: Any) -> tuple[int, dict[str, Any]]:
        body = {
            "init_data": self.init_data(user_id),
            "round": self.world.round.id,
            "answers": answers,
            **more,
        }
        return await self.post("/checkin/send", body)


async def serve(desk: CheckinDesk, world: World) -> AsyncIterator[Site]:
    server = WebServer(build_web_app(desk), "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Site(f"http://127.0.0.1:{server.port}", desk, world, http, server.app)
    finally:
        await server.stop()


def desk_for(world: World, **settings: Any) -> CheckinDesk:
    return CheckinDesk(
        world.db,
        world.keys,
        SubmissionIntake(world.db, world.keys),
        TOKEN,
        WebSettings(_env_file=None, **settings),
        language="sv",
    )


@pytest.fixture
async def site(make_world) -> AsyncIterator[Site]:
    world = make_world((6, 6))
    async for running in serve(desk_for(world), world):
        yield running


@asynccontextmanager
async def staff_server(
    db, keys, settings, tree, admin: int, language: str, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[tuple[str, DashboardDesk]]:
    """The page's server with the dashboard over the bot's loop organisation (tests.bot.loop_world),
    with an admin at its top in ``language``; yields the base address and the dashboard's desk."""
    from survey.enrolment import enrol_member
    from survey.storage.models import Role

    enrol_member(
        db,
        keys,
        telegram_user_id=admin,
        chat_id=admin,
        unit_id=tree["root"].id,
        role=Role.ADMIN,
        language=language,
    )
    web_settings = WebSettings(_env_file=None)
    checkin = CheckinDesk(db, keys, SubmissionIntake(db, keys), TOKEN, web_settings)
    desk = DashboardDesk(db, keys, web_settings, settings, TOKEN, clock=clock or _now)
    server = WebServer(build_web_app(checkin, desk), "127.0.0.1", 0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", desk
    finally:
        await server.stop()


def _now() -> datetime:
    return datetime.now(UTC)
