"""Telling a person what was stored, truthfully, whatever Telegram does afterwards.

Once survey/ has committed a change (an action, its status, a comment, a note, a request to
talk), the handler calls ``stored()``. From then on the error handler no longer says "nothing
was saved" if something fails, but that the change was kept. The confirmation itself goes
through ``say`` or ``replace``: a call that fails is tried again, an edit that still fails is
replaced by a new message, and only when even that fails is the confirmation given up (logged,
never raised into "nothing was saved").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import ContextVar

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.one_message import may_have_arrived, seconds_of
from bot.shared import Context

log = logging.getLogger(__name__)

#: Tries of one confirmation call before falling back (or giving up), and the first pause.
ATTEMPTS = 3
BACKOFF = 0.5
#: Longest wait for Telegram's "retry after" on a confirmation; longer is given up.
LONGEST_WAIT = 10.0

_STORED: ContextVar[bool] = ContextVar("stored", default=False)


def stored() -> None:
    """The current update's change is committed: no error after this says it was not."""
    _STORED.set(True)


def was_stored() -> bool:
    return _STORED.get()


async def start_of_update(update: object, context: Context) -> None:
    """First handler of every update (group -100): nothing of it is stored yet."""
    _STORED.set(False)


async def answer_press(query: CallbackQuery, text: str | None = None) -> None:
    """The short notice on a pressed button: the message that follows says the same, so a
    failure here is not worth an error."""
    with contextlib.suppress(TelegramError):
        await query.answer(text)


async def say(
    bot: Bot,
    chat_id: int,
    text: str,
    parse_mode: str | None = None,
    keyboard: InlineKeyboardMarkup | None = None,
) -> bool:
    """Send ``text`` as a new message, tried ``ATTEMPTS`` times; False if it never went."""
    for attempt in range(ATTEMPTS):
        try:
            await bot.send_message(chat_id, text, parse_mode=parse_mode, reply_markup=keyboard)
            return True
        except TelegramError as exc:
            if not await _retry(exc, attempt):
                return isinstance(exc, NetworkError) and may_have_arrived(exc)
    return False


async def replace(
    query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """Show ``text`` (HTML) in place of the pressed message; if Telegram will not edit it,
    as a new message below."""
    for attempt in range(ATTEMPTS):
        try:
            await query.edit_message_text(text, reply_markup=keyboard, parse_mode=ParseMode.HTML)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():  # a double tap: it says so already
                return
            break  # too old to edit, or deleted: a new message instead
        except TelegramError as exc:
            if not await _retry(exc, attempt):
                if isinstance(exc, NetworkError) and may_have_arrived(exc):
                    return
                break
    if query.message is None or not await say(
        query.get_bot(), query.message.chat.id, text, ParseMode.HTML, keyboard
    ):
        log.warning("could not confirm a stored change to the person (it is stored)")


async def _retry(error: TelegramError, attempt: int) -> bool:
    """Whether to try the same call again (after waiting), given how it failed."""
    if attempt + 1 >= ATTEMPTS or isinstance(error, Forbidden | BadRequest):
        return False
    if isinstance(error, RetryAfter):
        wait = seconds_of(error.retry_after)
        if wait > LONGEST_WAIT:
            return False
        await asyncio.sleep(wait)
        return True
    if isinstance(error, NetworkError) and may_have_arrived(error):
        return False  # it may be there already: twice would be worse than a doubt
    await asyncio.sleep(BACKOFF * 2**attempt)
    return True

