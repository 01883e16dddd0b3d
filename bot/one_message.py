"""One message to one member, and what Telegram's answer means for sending it again.

AIORateLimiter keeps the bot within Telegram's limits and waits ``retry_after`` on 429; here, a
403 (the user blocked the bot) marks the member unreachable instead of retrying, and network
errors that provably did not deliver are retried a few times with backoff. A request that may
have reached Telegram (the reply was lost) is never repeated: a rare miss beats a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Literal

import httpx
from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.context import services_from
from bot.fencing import NotClaimed, NotLeading
from bot.shared import App
from survey.deliveries import Recipient
from survey.enrolment import set_status
from survey.storage.models import MemberStatus

log = logging.getLogger(__name__)
NETWORK_RETRIES = 3

Outcome = Literal["sent", "claimed", "unreachable", "not leading", "failed"]


async def send_text(
    application: App,
    target: Recipient,
    text: str,
    keyboard: InlineKeyboardMarkup | None = None,
    backoff: float = 1.0,
) -> Outcome:
    """One HTML message to one member: "sent" (or maybe sent: the reply was lost),
    "unreachable" (403: marked so), "not leading" (fenced: another process sends instead) or
    "failed" (provably not delivered; the next tick tries again)."""
    services = services_from(application)
    for attempt in range(NETWORK_RETRIES + 1):
        try:
            await application.bot.send_message(
                target.chat_id, text, reply_markup=keyboard, parse_mode=ParseMode.HTML
            )
            return "sent"
        except NotLeading:
            return "not leading"
        except NotClaimed as exc:
            return "claimed" if exc.recorded else "failed"
        except Forbidden:
            await asyncio.to_thread(
                set_status, services.db, target.member_id, MemberStatus.UNREACHABLE
            )
            return "unreachable"
        except RetryAfter as exc:  # only when the rate limiter has given up retrying
            await asyncio.sleep(seconds_of(exc.retry_after))
        except NetworkError as exc:
            if may_have_arrived(exc):
                # Telegram may have it: sending again could give the member the message twice,
                # so it counts as sent (a rare miss beats a duplicate; docs/operations.md).
                log.warning("no reply to a send; counted as sent, not repeated")
                return "sent"
            if attempt == NETWORK_RETRIES:
                break
            await asyncio.sleep(backoff * 2**attempt)
        except TelegramError as exc:
            log.warning("could not send a message: %s", type(exc).__name__)
            return "failed"
    return "failed"


def may_have_arrived(error: NetworkError) -> bool:
    """Whether a failed request may still have reached Telegram: a timeout or a dropped
    connection while sending or waiting for the reply. Not when the connection never opened (or
    no connection was free), and not when Telegram answered with an error: those provably did
    not deliver."""
    cause = error.__cause__
    if isinstance(error, TimedOut):
        return not isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(cause, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError)


def seconds_of(value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    assert isinstance(value, int | float), value
    return float(value)
