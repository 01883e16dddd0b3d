"""Floods bounded per member and per network address, without keeping an address.

A page's requests are cheap to send and each one costs a signature check and a database read,
so one member, or one address, gets at most so many per minute. The table of who asked how often
holds neither addresses nor Telegram ids: each key is turned into a keyed hash under a key that
exists only in this process's memory and is never written anywhere, so the table tells nobody
anything, not even in a memory dump read after a restart. The table is bounded: past
``max_keys`` the key seen least recently is forgotten (a flood from many addresses then costs
each of them a fresh allowance, never memory).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web


class RateLimit:
    """A token bucket per key: ``per_minute`` requests a minute, up to ``burst`` at once."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self.max_keys = max_keys
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Count one request of ``key``; False if it is over its allowance."""
        token = hmac.new(self._secret, key.encode(), hashlib.sha256).digest()[:16]
        now = self._clock()
        tokens, last = self._buckets.pop(token, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[token] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)


def client_address(request: web.Request, trusted_proxies: list[str]) -> str:
    """The client's address as a rate-limit key (never kept): the peer's, or, behind a trusted
    reverse proxy, the last one it added to X-Forwarded-For."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and peer in trusted_proxies:
        return forwarded.rsplit(",", 1)[-1].strip()
    return peer
