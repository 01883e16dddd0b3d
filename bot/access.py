"""Who may use a staff command, and which unit it is about: the gate every staff handler passes.

Scope is survey/'s rule (``scope_of``: the granted unit and its sub-units); this module only
asks it and says a refusal in the person's language.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.buttons import Button, RecordAction
from bot.context import Pressed, chat_of, member_of, services_of, user_of
from bot.shared import Context
from survey.enrolment import scope_of, units_named
from survey.i18n import Texts
from survey.roles import ACTORS, ADMINS, READERS
from survey.storage.models import Member, Role


@dataclass(frozen=True)
class Staff:
    member: Member
    t: Texts
    #: The granted unit and its sub-units.
    scope: set[int]


async def staff_member(
    update: Update,
    context: Context,
    roles: frozenset[Role] = READERS,
) -> Staff | None:
    """The staff member behind the update, if their role may do this; otherwise says why."""
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(member.language if member else services.settings.language)
    if member is None or member.role not in roles:
        await chat_of(update).send_message(refusal(t, roles))
        return None
    scope = await asyncio.to_thread(scope_of, services.db, member)
    return Staff(member, t, scope)


def refusal(t: Texts, roles: frozenset[Role]) -> str:
    if roles == ADMINS:
        return t._("This is for admins.")
    if roles == ACTORS:
        return t._("This is for managers and admins.")
    return t._("This command is for managers, safety representatives and admins.")


def outside_grant(t: Texts) -> str:
    return t._("You can see only the units you were given access to. /units lists them.")


async def unit_argument(
    update: Update, context: Context, staff: Staff, words: list[str]
) -> int | None:
    """The unit ``words`` name: none (one's own unit), an id, or a name within the grant.
    Says what is wrong and returns None when that is not one unit of the grant."""
    chat, t = chat_of(update), staff.t
    if not words:
        return staff.member.unit_id
    text = " ".join(words)
    if text.isdigit():
        if int(text) not in staff.scope:
            await chat.send_message(outside_grant(t))
            return None
        return int(text)
    found = await asyncio.to_thread(units_named, services_of(context).db, text, staff.scope)
    if len(found) == 1:
        return found[0].id
    if not found:
        await chat.send_message(
            t._("None of your units is called “{name}”. /units lists them.").format(name=text)
        )
        return None
    choices = ", ".join(f"{unit.id} · {unit.name}" for unit in found[:10])
    await chat.send_message(
        t._("Several of your units match: {choices}. Use the number, e.g. /report {id}.").format(
            choices=choices, id=found[0].id
        )
    )
    return None


async def edit(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    """Edit a message's HTML text; a double tap that would change nothing is not an error."""
    try:
        await query.edit_message_text(text, reply_markup=keyboard, parse_mode=ParseMode.HTML)
    except BadRequest as exc:  # "message is not modified" after a double tap: nothing to do
        if "not modified" not in str(exc).lower():
            raise


def record_keyboard(
    t: Texts, unit_id: int, sign: Callable[[Button], str]
) -> InlineKeyboardMarkup:
    """The button under a report: record what will be done about it."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t._("Record an action"), callback_data=sign(RecordAction(unit_id)))]]
    )


async def press_staff(
    query: CallbackQuery,
    context: Context,
    pressed: Pressed,
    roles: frozenset[Role],
) -> tuple[Member, set[int]] | None:
    """The staff member behind a press and their grant, if their role is one of ``roles``;
    otherwise the press is answered with why not."""
    member = pressed.press.member
    if member is None or member.role not in roles:
        await query.answer(refusal(pressed.t, roles), show_alert=True)
        return None
    scope = await asyncio.to_thread(scope_of, services_of(context).db, member)
    return member, scope
