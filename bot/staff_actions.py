"""Managers and safety representatives in chat: what is done about a report (AFS 2023:1).

Recording an action step by step (area, words, owner, due date), moving it on, comments by
safety representatives, and the manager's /note to the workers. Who may do what is survey/'s
(survey.roles.ACTORS, survey.actions); every step survives a restart (the area in the signed
buttons, the words in durable prompts: bot.prompts).
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from datetime import date, timedelta

from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, filters

from aggregation.findings import ranked_findings
from aggregation.wording import action_status, construct_label, too_late_for_a_note
from bot.access import (
    edit,
    outside_grant,
    press_staff,
    record_keyboard,
    refusal,
    staff_member,
    unit_argument,
)
from bot.acknowledge import answer_press, replace, say, stored
from bot.buttons import (
    ActionArea,
    ActionComment,
    ActionDue,
    MoveAction,
    RecordAction,
)
from bot.context import Pressed, chat_of, member_of, route, services_of, signed, user_of
from bot.messages import action_lines
from bot.prompts import Prompt, await_answer, cancel, on_answer
from bot.shared import App, Context
from bot.staff_reports import report_of
from survey.actions import (
    ActionError,
    NoteTooLateError,
    add_comment,
    checked_text,
    record_action,
    set_action_status,
    write_note,
)
from survey.enrolment import scope_of
from survey.i18n import Texts
from survey.roles import ACTORS, READERS
from survey.storage.models import ActionStatus

log = logging.getLogger(__name__)


def add_action_handlers(application: App) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("actions", actions, filters=private))
    application.add_handler(CommandHandler("note", note, filters=private))


OVERDUE_WORDS = {"overdue", "försenade", "forsenade"}
#: Due dates offered as buttons, in days from today.
DUE_CHOICES = (14, 30, 90)
MAX_LISTED = 10


def _today(context: Context) -> date:
    services = services_of(context)
    return services.settings.today(services.clock())


async def actions(update: Update, context: Context) -> None:
    """/actions [unit] [overdue]: the actions of a unit in the grant and its sub-units, each
    with its buttons (status for managers and admins, a comment for everyone here)."""
    staff = await staff_member(update, context)
    if staff is None:
        return
    words = list(context.args or [])
    overdue = bool(words) and words[-1].casefold() in OVERDUE_WORDS
    if overdue:
        words = words[:-1]
    unit_id = await unit_argument(update, context, staff, words)
    if unit_id is None:
        return
    t, chat = staff.t, chat_of(update)
    built = await report_of(context, unit_id, t, chat)
    if built is None:
        return
    today = _today(context)
    listed = [a for a in built.actions if not overdue or a.overdue(today)]
    user_id = user_of(update).id
    may_act = staff.member.role in ACTORS
    if not listed:
        text = t._("No overdue actions.") if overdue else t._("No actions recorded yet.")
        keyboard = (
            record_keyboard(t, unit_id, lambda p: signed(context, p, user_id)) if may_act else None
        )
        await chat.send_message(text, reply_markup=keyboard)
        return
    for row in listed[:MAX_LISTED]:
        await chat.send_message(
            "\n".join(action_lines(t, row, today, built)),
            parse_mode=ParseMode.HTML,
            reply_markup=_action_keyboard(context, t, row.id, row.status, may_act, user_id),
        )
    more = len(listed) - MAX_LISTED
    footer = (
        t._("{n} more: name a sub-unit, e.g. /actions {id}.").format(n=more, id=unit_id)
        if more > 0
        else t._("Actions of {unit} and its sub-units.").format(unit=built.unit_name)
    )
    await chat.send_message(
        footer,
        reply_markup=record_keyboard(t, unit_id, lambda p: signed(context, p, user_id))
        if may_act
        else None,
    )


def _action_keyboard(
    context: Context,
    t: Texts,
    action_id: int,
    status: ActionStatus,
    may_act: bool,
    user_id: int,
) -> InlineKeyboardMarkup:
    row = []
    if may_act and status == ActionStatus.PLANNED:
        row.append(
            InlineKeyboardButton(
                t._("Started"), callback_data=signed(context, MoveAction(action_id, "o"), user_id)
            )
        )
    if may_act and status != ActionStatus.DONE:
        row.append(
            InlineKeyboardButton(
                t._("Done"), callback_data=signed(context, MoveAction(action_id, "d"), user_id)
            )
        )
    row.append(
        InlineKeyboardButton(
            t._("Comment"), callback_data=signed(context, ActionComment(action_id), user_id)
        )
    )
    return InlineKeyboardMarkup([row])


async def _start_recording(
    query: CallbackQuery, context: Context, pressed: Pressed, button: RecordAction
) -> None:
    """First step: what the action answers - the report's findings and areas, or else."""
    found = await press_staff(query, context, pressed, ACTORS)
    if found is None:
        return
    member, scope = found
    t = pressed.t
    unit_id = button.unit_id
    if unit_id not in scope:
        await query.answer(outside_grant(t), show_alert=True)
        return
    await query.answer()
    chat = query.message.chat  # type: ignore[union-attr]  # a button press comes with its message
    built = await report_of(context, unit_id, t, chat)
    if built is None:
        return
    first = [f.construct for f in ranked_findings(built)]
    choices = list(dict.fromkeys([*first, *built.construct_labels]))[:8]
    # The unit and the area travel in the (signed) buttons, not in memory: a press after a
    # restart still knows what it chose. A construct key has at most 40 characters, so the
    # data stays within Telegram's 64 bytes.
    rows = [
        [
            InlineKeyboardButton(
                construct_label(built, construct, member.language),
                callback_data=signed(context, ActionArea(unit_id, construct), query.from_user.id),
            )
        ]
        for construct in choices
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t._("Something else"),
                callback_data=signed(context, ActionArea(unit_id, None), query.from_user.id),
            )
        ]
    )
    await chat.send_message(
        t._("New action for {unit}. Which area does it answer?").format(unit=built.unit_name),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _chose_area(
    query: CallbackQuery, context: Context, pressed: Pressed, button: ActionArea
) -> None:
    found = await press_staff(query, context, pressed, ACTORS)
    if found is None:
        return
    _, scope = found
    t = pressed.t
    unit_id, construct = button.unit_id, button.construct
    if unit_id not in scope:  # the grant changed since the question was asked
        await query.answer(outside_grant(t), show_alert=True)
        return
    await query.answer()
    await await_answer(
        context, query.from_user.id, "action_title", unit=unit_id, construct=construct
    )
    await edit(
        query,
        html.escape(
            t._(
                "What will be done? Write it in one message, as the team should read it "
                "(e.g. “A mentor for every new social worker during the first six months”)."
            )
        ),
        None,
    )


@on_answer("action_title")
async def _action_title(update: Update, context: Context, prompt: Prompt, text: str) -> None:
    title = await _checked(update, context, "title", text)
    if title is None:
        return
    t = await _texts(update, context)
    await await_answer(context, user_of(update).id, "action_owner", **prompt.data, title=title)
    await chat_of(update).send_message(t._("Who owns it? A name or a role."))


@on_answer("action_owner")
async def _action_owner(update: Update, context: Context, prompt: Prompt, text: str) -> None:
    owner = await _checked(update, context, "owner", text)
    if owner is None:
        return
    t = await _texts(update, context)
    await await_answer(context, user_of(update).id, "action_due", **prompt.data, owner=owner)
    user_id = user_of(update).id
    today = _today(context)
    buttons = [
        InlineKeyboardButton(
            t.date(today + timedelta(days=days)),
            callback_data=signed(context, ActionDue(days), user_id),
        )
        for days in DUE_CHOICES
    ]
    await chat_of(update).send_message(
        t._("By when? Choose a date, or write one (YYYY-MM-DD)."),
        reply_markup=InlineKeyboardMarkup([buttons]),
    )


@on_answer("action_due")
async def _action_due_typed(update: Update, context: Context, prompt: Prompt, text: str) -> None:
    t = await _texts(update, context)
    try:
        due = date.fromisoformat(text.strip())
    except ValueError:
        await chat_of(update).send_message(
            t._("That is not a date I can read; write it as 2026-12-31.")
        )
        return
    await _record(context, chat_of(update), user_of(update).id, t, prompt, due)


async def _due_pressed(
    query: CallbackQuery, context: Context, pressed: Pressed, button: ActionDue
) -> None:
    prompt = (context.user_data or {}).get("prompt")
    if not isinstance(prompt, Prompt) or prompt.kind != "action_due":
        await query.answer(pressed.t._("This button is out of date."))
        return
    await query.answer()
    due = _today(context) + timedelta(days=button.days)
    chat = query.message.chat  # type: ignore[union-attr]  # a button press comes with its message
    await _record(context, chat, query.from_user.id, pressed.t, prompt, due)


async def _record(
    context: Context,
    chat: Chat,
    user_id: int,
    t: Texts,
    prompt: Prompt,
    due: date,
) -> None:
    services = services_of(context)
    member = await member_of(context, user_id)
    if member is None or member.role not in ACTORS:
        await cancel(context, user_id)
        await chat.send_message(refusal(t, ACTORS))
        return
    scope = await asyncio.to_thread(scope_of, services.db, member)
    try:
        action = await asyncio.to_thread(
            functools.partial(
                record_action,
                services.db,
                unit_id=prompt.data["unit"],
                title=prompt.data["title"],
                owner=prompt.data["owner"],
                due_on=due,
                today=_today(context),
                construct=prompt.data["construct"],
                created_by=member.id,
                scope=scope,
            )
        )
    except ActionError as exc:
        await chat.send_message(exc.problem.in_language(t))
        return
    stored()
    await cancel(context, user_id)
    await say(
        context.bot,
        chat.id,
        html.escape(
            t._("Recorded: “{title}”, owner {owner}, due {date}.").format(
                title=action.title, owner=action.owner, date=t.date(action.due_on)
            )
        )
        + "\n\n"
        + html.escape(
            t._(
                "The workers see it with their next results. When it is done, mark it in "
                "/actions: the unit's next check-in then asks whether it made a difference."
            )
        ),
        ParseMode.HTML,
    )


async def _set_status(
    query: CallbackQuery, context: Context, pressed: Pressed, button: MoveAction
) -> None:
    found = await press_staff(query, context, pressed, ACTORS)
    if found is None:
        return
    _, scope = found
    t = pressed.t
    status = {"o": ActionStatus.ONGOING, "d": ActionStatus.DONE}[button.status]
    try:
        action = await asyncio.to_thread(
            functools.partial(
                set_action_status,
                services_of(context).db,
                button.action_id,
                status,
                scope=scope,
                today=_today(context),
            )
        )
    except ActionError as exc:
        await query.answer(exc.problem.in_language(t), show_alert=True)
        return
    stored()
    await answer_press(query, t._("Saved."))
    text = (
        "<b>"
        + html.escape(action.title)
        + "</b>\n"
        + html.escape(t._("Status: {status}").format(status=action_status(t, action.status)))
    )
    if action.status == ActionStatus.DONE:
        text += "\n" + html.escape(
            t._("The unit's next check-in asks whether it made a difference.")
        )
    await replace(query, text)


async def _start_comment(
    query: CallbackQuery,
    context: Context,
    pressed: Pressed,
    button: ActionComment,
) -> None:
    found = await press_staff(query, context, pressed, READERS)
    if found is None:
        return
    await query.answer()
    await await_answer(context, query.from_user.id, "action_comment", action=button.action_id)
    await context.bot.send_message(
        query.from_user.id, pressed.t._("Write your comment in one message.")
    )


@on_answer("action_comment")
async def _comment_written(update: Update, context: Context, prompt: Prompt, text: str) -> None:
    staff = await staff_member(update, context)
    if staff is None:
        await cancel(context, user_of(update).id)
        return
    try:
        await asyncio.to_thread(
            functools.partial(
                add_comment,
                services_of(context).db,
                prompt.data["action"],
                role=staff.member.role,
                text=text,
                scope=staff.scope,
                today=_today(context),
            )
        )
    except ActionError as exc:
        await chat_of(update).send_message(exc.problem.in_language(staff.t))
        return
    stored()
    await cancel(context, user_of(update).id)
    await say(context.bot, chat_of(update).id, staff.t._("Comment saved. /actions shows it."))


async def note(update: Update, context: Context) -> None:
    """/note <text>: a note to the unit's workers, sent with the latest round's results."""
    staff = await staff_member(update, context, roles=ACTORS)
    if staff is None:
        return
    t, chat = staff.t, chat_of(update)
    text = " ".join(context.args or [])
    if not text:
        await chat.send_message(
            t._(
                "Write the note after the command, e.g. /note Thank you for answering – we "
                "take up the workload at Tuesday's meeting."
            )
        )
        return
    services = services_of(context)
    built = await report_of(context, staff.member.unit_id, t, chat)
    if built is None:
        return
    latest = built.latest_round
    if latest is None:
        await chat.send_message(t._("No closed round yet: results appear when a round closes."))
        return
    try:
        await asyncio.to_thread(
            write_note,
            services.db,
            writer=staff.member,
            unit_id=staff.member.unit_id,
            round_id=latest.round_id,
            text=text,
        )
    except NoteTooLateError:
        await chat.send_message(too_late_for_a_note(t, latest.closed_at))
        return
    except ActionError as exc:
        await chat.send_message(exc.problem.in_language(t))
        return
    stored()
    await say(
        context.bot,
        chat.id,
        t._("Your note goes to the workers of {unit} with the results of {week}.").format(
            unit=built.unit_name, week=t.week(latest.closed_at)
        ),
    )


async def _checked(update: Update, context: Context, field: str, text: str) -> str | None:
    """The typed words if survey/ accepts them for ``field``; otherwise says why (the prompt
    stays, so the next message is another try)."""
    try:
        return checked_text(field, text)
    except ActionError as exc:
        t = await _texts(update, context)
        await chat_of(update).send_message(exc.problem.in_language(t))
        return None


async def _texts(update: Update, context: Context) -> Texts:
    member = await member_of(context, user_of(update).id)
    return Texts(member.language if member else services_of(context).settings.language)


#: The buttons of recording and moving on actions.
BUTTONS = dict(
    [
        route(RecordAction, _start_recording),
        route(ActionArea, _chose_area),
        route(ActionDue, _due_pressed),
        route(MoveAction, _set_status),
        route(ActionComment, _start_comment),
    ]
)
