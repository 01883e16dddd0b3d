"""The last step before a request to Telegram: prove the lead, then claim the message.

A leader can lose its lock at any moment (its connection cut, PostgreSQL restarted, the process
frozen and resumed while another took over). Checking the lock before a send is not enough: the
send may then wait in the rate limiter, or behind 39 others, for seconds. So the check runs in
the last step before the HTTP request, after any wait in the rate limiter and before each retry
it makes; a deposed leader sends at most the requests already on the wire.

Only what the scheduler sends on its own is fenced (``fenced_by``): a reply to a person's own
press or message goes out from whichever process received it.

The message's claim (survey.claims) is written in the same last step (``claimed_by``), after the
lead is proven and right before the request: a process killed at any moment leaves at most the
claims of the requests it had on the wire without their message, not those of every send that
was waiting in the rate limiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from telegram.error import TelegramError
from telegram.ext import BaseRateLimiter

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


class Lead(Protocol):
    """What fencing asks of the scheduler lock (survey.storage.leader.LeaderLock)."""

    @property
    def fenced(self) -> bool: ...

    def holds(self) -> bool: ...


class NotLeading(TelegramError):
    """The request was not made: this process cannot prove it still leads."""

    def __init__(self) -> None:
        super().__init__("not the leader any more: the request was not sent")


class NotClaimed(TelegramError):
    """The request was not made: the message is someone else's to send, or its claim could not
    be written (``recorded`` False)."""

    def __init__(self, recorded: bool) -> None:
        super().__init__("the message was not claimed: the request was not sent")
        self.recorded = recorded


#: Writes the message's claim; raises NotClaimed when the message must not go.
Claimer = Callable[[], Awaitable[None]]

_FENCE: ContextVar[Lead | None] = ContextVar("fence", default=None)
_CLAIM: ContextVar[Claimer | None] = ContextVar("claim", default=None)


@contextmanager
def fenced_by(lead: Lead | None) -> Iterator[None]:
    """Requests made in this block (and in tasks it starts) go only while ``lead`` holds."""
    token = _FENCE.set(lead if lead is not None and lead.fenced else None)
    try:
        yield
    finally:
        _FENCE.reset(token)


@contextmanager
def claimed_by(claimer: Claimer | None) -> Iterator[None]:
    """Requests made in this block first run ``claimer`` (after the fence)."""
    token = _CLAIM.set(claimer)
    try:
        yield
    finally:
        _CLAIM.reset(token)


class FencingRateLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter slot, used for the last check before a request:
    wraps an inner limiter (AIORateLimiter in production, none in tests), and proves the lead
    each time that limiter lets the request through."""

    def __init__(self, inner: BaseRateLimiter[int] | None = None) -> None:
        self._inner = inner

    async def initialize(self) -> None:
        if self._inner is not None:
            await self._inner.initialize()

    async def shutdown(self) -> None:
        if self._inner is not None:
            await self._inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        async def proven(*call_args: Any, **call_kwargs: Any) -> JSONResult:
            lead = _FENCE.get()
            if lead is not None and not await asyncio.to_thread(lead.holds):
                raise NotLeading()
            claimer = _CLAIM.get()
            if claimer is not None:
                await claimer()
            return await callback(*call_args, **call_kwargs)

        if self._inner is None:
            return await proven(*args, **kwargs)
        return await self._inner.process_request(
            proven, args, kwargs, endpoint, data, rate_limit_args
        )
