"""The Telegram application: which handler gets which update, and what every update shares.

The handlers live by audience and concern - ``bot.worker_membership``, ``bot.worker_checkin``,
``bot.worker_talk``; ``bot.staff_reports``, ``bot.staff_actions``, ``bot.staff_talk`` (managers and
safety representatives); ``bot.admins`` - and no rule lives in any of them: they turn an update into
survey/ and aggregation/ calls and the outcome into text in the person's language. This module
builds the application, refuses group chats (P8), verifies every button press once, and keeps
errors out of the logs' personal data (P4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import (
    admins,
    staff_actions,
    staff_dashboard,
    staff_reports,
    staff_talk,
    worker_checkin,
    worker_membership,
    worker_talk,
)
from bot.acknowledge import start_of_update, was_stored
from bot.buttons import Button
from bot.buttons import read as read_button
from bot.checkin import CheckinState
from bot.context import ButtonHandler, Pressed, Services, language_of, member_of, services_of
from bot.fencing import FencingRateLimiter
from bot.prompts import answer_prompt
from bot.settings import BotSettings
from bot.shared import CONTEXT_TYPES, App, Context
from survey.i18n import Texts
from survey.lifecycle import member_and_round
from survey.storage import DatabaseUnavailableError

log = logging.getLogger(__name__)

#: One handler per kind of button, from every audience's module (bot.buttons has the kinds).
BUTTONS: dict[type[Button], ButtonHandler] = {
    **worker_membership.BUTTONS,
    **worker_checkin.BUTTONS,
    **worker_talk.BUTTONS,
    **staff_actions.BUTTONS,
    **staff_talk.BUTTONS,
    **admins.BUTTONS,
}


def build_application(
    bot_settings: BotSettings,
    services: Services,
    rate_limit: bool = True,
    connection_pool_size: int | None = None,
    rate_limiter: BaseRateLimiter[int] | None = None,
) -> Application:
    """The application; ``rate_limiter`` replaces AIORateLimiter (tests hold requests in it)."""
    if bot_settings.bot_token is None:
        raise ValueError("PULSE_BOT_TOKEN is not set (the token BotFather gave you)")
    builder: ApplicationBuilder = (
        Application.builder()
        .context_types(CONTEXT_TYPES)
        .token(bot_settings.bot_token.get_secret_value())
        .base_url(bot_settings.bot_api_url)
        .base_file_url(bot_settings.bot_file_url)
    )
    # The scheduler's sends prove the lead after any wait in the rate limiter (bot.fencing).
    if rate_limiter is None and rate_limit:
        rate_limiter = AIORateLimiter(max_retries=3)
    builder = builder.rate_limiter(FencingRateLimiter(rate_limiter))
    if connection_pool_size is not None:
        builder = builder.connection_pool_size(connection_pool_size)
    builder = builder.post_shutdown(_release_leadership)
    # Many people press buttons at once after a broadcast: handle their updates concurrently
    # (each handler waits on the database in a worker thread; double taps are caught by survey/).
    builder = builder.concurrent_updates(True)
    application: App = builder.build()
    application.bot_data.services = services
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, start_of_update), group=-100)
    application.add_handler(MessageHandler(~private, refuse_group), group=-1)
    worker_membership.add_membership_handlers(application)
    worker_checkin.add_checkin_handlers(application)
    worker_talk.add_talk_handlers(application)
    staff_reports.add_report_handlers(application)
    staff_actions.add_action_handlers(application)
    staff_dashboard.add_dashboard_handlers(application)
    admins.add_admin_handlers(application)
    # Last: any other message in a private chat (plain text, an unknown command) gets help.
    application.add_handler(
        MessageHandler(private & (filters.TEXT | filters.COMMAND), text_message)
    )
    application.add_handler(CallbackQueryHandler(button))
    application.add_error_handler(on_error)
    return application


async def _release_leadership(application: App) -> None:
    """Let another bot process take over the scheduler at once, not when this connection dies."""
    leader = application.bot_data.leader
    if leader is not None:
        await asyncio.to_thread(leader.release)


async def refuse_group(update: Update, context: Context) -> None:
    """P8: nothing runs in groups. Say why once, then leave."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    t = Texts(language_of(update, None, services_of(context).settings.language))
    refused = context.application.bot_data.refused_chats
    if chat.id not in refused:
        refused.add(chat.id)
        try:
            await chat.send_message(
                t._(
                    "Staff Pulse works only in private chats, so that nobody's answers are seen "
                    "by others. I am leaving this group."
                )
            )
        except TelegramError as exc:  # muted or removed already: leaving is what matters
            log.info("could not explain leaving a group (%s)", type(exc).__name__)
    try:
        await chat.leave()
    except TelegramError as exc:
        # Telegram refused (already gone, or a hiccup): the next message from it tries again.
        log.warning("could not leave a group chat (%s); will try again", type(exc).__name__)


async def text_message(update: Update, context: Context) -> None:
    """A typed message: the answer to what the bot asked (a description, a comment, a
    reply), or else help."""
    message = update.effective_message
    is_command = message is not None and (message.text or "").startswith("/")
    if not is_command and await answer_prompt(update, context):
        return
    await worker_membership.plain_message(update, context)


async def button(update: Update, context: Context) -> None:
    """Every press is answered (no spinning clock), also when it is forged or out of date."""
    query = update.callback_query
    assert query is not None
    assert query.from_user is not None
    services = services_of(context)
    payload = services.keys.button_signer().verify(query.data or "", query.from_user.id)
    if payload is None:
        member = await member_of(context, query.from_user.id)  # to answer in their language
        t = Texts(language_of(update, member, services.settings.language))
        await query.answer(t._("This button is not valid."), show_alert=False)
        return
    decoded = CheckinState.decode(payload)
    pressed_button = None if decoded else read_button(payload)
    # The busiest press (a check-in answer) needs the member and the round: one database trip.
    press = await asyncio.to_thread(
        member_and_round,
        services.db,
        services.keys,
        query.from_user.id,
        decoded[0].round_id if decoded else None,
    )
    t = Texts(language_of(update, press.member, services.settings.language))
    pressed = Pressed(press, t, decoded)
    if decoded is not None:
        await worker_checkin.checkin_button(query, context, pressed)
        return
    handler = BUTTONS.get(type(pressed_button)) if pressed_button is not None else None
    if handler is None:  # a kind this version no longer makes, or fields that do not fit
        await query.answer(t._("This button is out of date."))
        return
    await handler(query, context, pressed, pressed_button)


async def on_error(update: object, context: Context) -> None:
    """Log without personal data (no update contents: P4), tell the person, keep running."""
    error = context.error
    if isinstance(error, DatabaseUnavailableError):
        log.warning("database unavailable: %s", error)
    else:
        log.error("handler failed: %s", type(error).__name__, exc_info=error)
    if not isinstance(update, Update):
        return
    default = services_of(context).settings.language
    t = Texts(language_of(update, None, default))
    if was_stored():  # the change is kept: saying otherwise would make them do it twice
        sorry = t._(
            "Saved – but something went wrong on our side afterwards. There is no need to do it "
            "again."
        )
    else:
        sorry = t._(
            "Something went wrong on our side and nothing was saved. Please try again in a "
            "moment."
        )
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer(sorry, show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:
            await update.effective_chat.send_message(sorry)


__all__ = ["Services", "build_application"]
