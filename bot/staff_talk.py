"""Managers and safety representatives in chat: replying to a worker's request to talk.

The request itself is delivered by the scheduler (bot.scheduler); the reply goes back through
the bot, with the staff member's name, and the wait for it survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging

from telegram import CallbackQuery, Update
from telegram.error import BadRequest

from bot.access import (
    press_staff,
    staff_member,
)
from bot.acknowledge import say, stored
from bot.buttons import (
    TalkReply,
)
from bot.context import Pressed, chat_of, route, services_of, user_of
from bot.one_message import send_text
from bot.prompts import Prompt, await_answer, cancel, on_answer
from bot.shared import Context
from survey.i18n import Texts
from survey.roles import READERS
from survey.talk import TalkError, reply_target

log = logging.getLogger(__name__)


async def _start_reply(
    query: CallbackQuery, context: Context, pressed: Pressed, button: TalkReply
) -> None:
    found = await press_staff(query, context, pressed, READERS)
    if found is None:
        return
    # Waiting for the reply comes first: a press redelivered after a restart resumes it even
    # when answering the press again is refused.
    await await_answer(context, query.from_user.id, "talk_reply", request=button.request_id)
    with contextlib.suppress(BadRequest):  # a press redelivered after a restart was answered
        await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        pressed.t._(
            "Write your reply in one message; it goes to them through the bot, with your name."
        ),
    )


@on_answer("talk_reply")
async def _reply_written(
    update: Update, context: Context, prompt: Prompt, text: str
) -> None:
    staff = await staff_member(update, context)
    if staff is None:
        await cancel(context, user_of(update).id)
        return
    services = services_of(context)
    t = staff.t
    try:
        target = await asyncio.to_thread(
            reply_target, services.db, services.keys, prompt.data["request"], staff.member.id
        )
    except TalkError as exc:
        await cancel(context, user_of(update).id)
        await chat_of(update).send_message(exc.problem.in_language(t))
        return
    reader = Texts(target.language)
    heading = reader._("Reply from {name} ({role}) to your request to talk:").format(
        name=user_of(update).full_name, role=reader.role(str(staff.member.role))
    )
    # The prompt is let go only once the reply has left: a crash before that redelivers the
    # manager's message after the restart, and the reply goes then (never lost; docs/operations.md).
    outcome = await send_text(
        context.application,
        target,
        "<b>" + html.escape(heading) + "</b>\n" + html.escape(text[:3500]),
    )
    chat_id = chat_of(update).id
    if outcome == "sent":
        stored()
        await cancel(context, user_of(update).id)
        await say(context.bot, chat_id, t._("Your reply was sent."))
    elif outcome == "unreachable":
        await cancel(context, user_of(update).id)
        await say(
            context.bot,
            chat_id,
            t._("Your reply could not be delivered; they may have left or blocked the bot."),
        )
    else:
        await say(
            context.bot,
            chat_id,
            t._(
                "Your reply could not be delivered just now. Send it again in a moment: I am "
                "still waiting for it."
            ),
        )


#: The reply button under a request to talk.
BUTTONS = dict([route(TalkReply, _start_reply)])
