"""Workers in chat: asking to talk with their manager or safety representative (/talk).

Not anonymous, and said so before anything is stored; the request holds no answer, no round and
no time of day (survey.talk), and goes out the next morning (bot.scheduler).
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, filters

from bot.acknowledge import answer_press, replace, stored
from bot.buttons import Talk
from bot.context import (
    Pressed,
    chat_of,
    language_of,
    member_of,
    route,
    services_of,
    signed,
    user_of,
)
from bot.shared import App, Context
from bot.worker_membership import not_enrolled
from survey.i18n import Texts
from survey.storage.models import Member, Role, TalkRecipient
from survey.talk import TalkError, available_recipients, request_talk

log = logging.getLogger(__name__)


def add_talk_handlers(application: App) -> None:
    application.add_handler(CommandHandler("talk", talk, filters=filters.ChatType.PRIVATE))


def _talk_text(t: Texts) -> str:
    return t._(
        "Would you like to talk to someone about your work situation? Choose whom to ask.\n\n"
        "This request is NOT anonymous: the person you choose sees your Telegram name and "
        "can reply here. Your check-in answers stay anonymous and are never linked to it; "
        "the request holds no answer and no time finer than the day. Requests go out once a "
        "day, the morning after you ask."
    )


async def talk(update: Update, context: Context) -> None:
    """/talk: the offer to talk, the same for everyone."""
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None or member.role != Role.WORKER:
        await chat_of(update).send_message(
            not_enrolled(t) if member is None else t._("This is for workers of a unit.")
        )
        return
    text, keyboard = await _talk_offer(context, member, t, user_of(update).id)
    await chat_of(update).send_message(text, reply_markup=keyboard)


async def _talk_offer(
    context: Context, member: Member, t: Texts, user_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    available = await asyncio.to_thread(
        available_recipients, services_of(context).db, member.unit_id
    )
    if not available:
        return t._(
            "There is no manager or safety representative in the bot for your unit yet."
        ), None
    names = {
        TalkRecipient.MANAGER: t._("My manager"),
        TalkRecipient.SAFETY_REP: t._("The safety representative"),
    }
    row = [
        InlineKeyboardButton(names[r], callback_data=signed(context, Talk(r), user_id))
        for r in available
    ]
    return _talk_text(t), InlineKeyboardMarkup([row])


async def _talk_press(
    query: CallbackQuery, context: Context, pressed: Pressed, button: Talk
) -> None:
    member, t, recipient = pressed.press.member, pressed.t, button.recipient
    if member is None or member.role != Role.WORKER:
        await query.answer(t._("This is for workers of a unit."), show_alert=True)
        return
    if recipient is None:  # the button after a check-in: the same offer as /talk
        await query.answer()
        text, keyboard = await _talk_offer(context, member, t, query.from_user.id)
        await context.bot.send_message(query.from_user.id, text, reply_markup=keyboard)
        return
    services = services_of(context)
    today = services.settings.today(services.clock())
    try:
        await asyncio.to_thread(
            functools.partial(
                request_talk,
                services.db,
                services.keys,
                member_id=member.id,
                recipient=recipient,
                name=query.from_user.full_name,
                today=today,
                cooldown_days=services.settings.talk_cooldown_days,
            )
        )
    except TalkError as exc:
        await query.answer(exc.problem.in_language(t), show_alert=True)
        return
    stored()
    await answer_press(query, t._("Saved."))
    whom = (
        t._("your manager")
        if recipient == TalkRecipient.MANAGER
        else t._("the safety representative")
    )
    await replace(
        query,
        html.escape(
            t._(
                "Your request goes to {whom} tomorrow morning, with your Telegram name. "
                "They can reply to you here."
            ).format(whom=whom)
        ),
    )


#: The workers' buttons (the check-in's come through ``checkin_button``).


#: Whom to ask to talk (or, after a check-in, the offer itself).
BUTTONS = dict([route(Talk, _talk_press)])
