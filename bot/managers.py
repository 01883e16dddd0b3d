"""Managers and safety representatives in chat: reports, trends and units within their grant.

Disclosure control and the audits are aggregation/'s; nothing here can show an open round:
reports read only the published statistics of closed rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import io
import logging
from datetime import date, timedelta

from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from aggregation.charts import area_chart, units_heatmap
from aggregation.findings import ranked_findings
from aggregation.report import ReportError, UnitReport, build_report
from aggregation.wording import action_status, construct_label
from bot.access import (
    edit,
    outside_grant,
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
    TalkReply,
)
from bot.context import Pressed, chat_of, member_of, route, services_of, signed, user_of
from bot.messages import action_lines, report_text, split_messages
from bot.one_message import send_text
from bot.prompts import Prompt, await_answer, cancel, on_answer
from survey.actions import (
    ActionError,
    add_comment,
    checked_text,
    record_action,
    set_action_status,
    set_note,
)
from survey.deliveries import results_sent
from survey.enrolment import scope_of, unit_tree, units_named
from survey.i18n import Texts
from survey.roles import ACTORS, READERS
from survey.storage.models import ActionStatus, Member, Role
from survey.talk import TalkError, reply_target

log = logging.getLogger(__name__)


def add_reader_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("report", report, filters=private))
    application.add_handler(CommandHandler("trend", trend, filters=private))
    application.add_handler(CommandHandler("units", units, filters=private))
    application.add_handler(CommandHandler("actions", actions, filters=private))
    application.add_handler(CommandHandler("note", note, filters=private))


def member_user(update: Update) -> int:
    return user_of(update).id


async def _granted_report(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Member, Texts, UnitReport] | None:
    """The report of the unit asked for (default: one's own), if it is within the grant."""
    staff = await staff_member(update, context)
    if staff is None:
        return None
    unit_id = await unit_argument(update, context, staff, context.args or [])
    if unit_id is None:
        return None
    built = await report_of(context, unit_id, staff.t, chat_of(update))
    return None if built is None else (staff.member, staff.t, built)


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report [unit]: the latest closed rounds of a unit within the grant, and its sub-units
    at a glance (a chart) where it has any."""
    granted = await _granted_report(update, context)
    if granted is None:
        return
    member, t, built = granted
    chat = chat_of(update)
    messages = report_text(built, member.language)
    for number, message in enumerate(messages, 1):
        keyboard = None
        if number == len(messages) and member.role in ACTORS and built.rounds:
            keyboard = record_keyboard(
                t, built.unit_id, lambda p: signed(context, p, member_user(update))
            )
        await chat.send_message(message, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    if not built.latest.get("shown"):
        return
    heat = await asyncio.to_thread(units_heatmap, services_of(context).db, built, member.language)
    if heat is not None:
        await photo(chat, heat, t._("Sub-units, latest figures"), t)


async def trend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/trend [area or unit]: one area over time, drawn for a phone. Without an area: the area
    that needs attention first; the caption names the others."""
    staff = await staff_member(update, context)
    if staff is None:
        return
    member, t, scope = staff.member, staff.t, staff.scope
    text = " ".join(context.args or [])
    built: UnitReport | None = None
    area: str | None = None
    db = services_of(context).db
    if (
        text and not text.isdigit() and not await asyncio.to_thread(units_named, db, text, scope)
    ):  # not a unit: an area of one's own unit, e.g. /trend stöd
        own = await report_of(context, member.unit_id, t, chat_of(update))
        if own is None:
            return
        area = _area_named(own, text, member.language)
        built = own if area is not None else None
    if built is None:
        granted = await _granted_report(update, context)
        if granted is None:
            return
        member, t, built = granted
    chat = chat_of(update)
    if not built.rounds:
        await chat.send_message(t._("No closed round yet: results appear when a round closes."))
        return
    if built.indices.isna().all().all():
        # Nothing of this unit was ever shown on its own: a chart would be empty. Say why.
        where = built.parent_name or built.org_name
        explanation = report_text(built, member.language)[0]
        hint = t._("No round has shown figures for this unit on its own, so there is no chart.")
        if built.parent_id is not None:
            hint += " " + t._("/trend {id} shows {parent}, where its answers are included.").format(
                id=built.parent_id, parent=where
            )
        await chat.send_message(explanation + "\n\n" + html.escape(hint), parse_mode=ParseMode.HTML)
        return
    shown = [c for c in built.indices.columns if built.indices[c].notna().any()]
    if area is None:
        first = ranked_findings(built)
        area = first[0].construct if first and first[0].construct in shown else shown[0]
    png = await asyncio.to_thread(area_chart, built, area, member.language)
    others = ", ".join(
        f"/trend {built.construct_labels[c].get(member.language, c).lower()}"
        for c in shown
        if c != area
    )
    caption = built.unit_name
    if others:
        caption += "\n" + t._("Other areas: {areas}").format(areas=others)
    await photo(chat, png, caption, t)


async def report_of(
    context: ContextTypes.DEFAULT_TYPE, unit_id: int, t: Texts, chat: Chat
) -> UnitReport | None:
    services = services_of(context)
    try:
        return await asyncio.to_thread(
            functools.partial(
                build_report, services.db, unit_id, change_spread=services.settings.change_spread
            )
        )
    except ReportError:
        # The audit's reason names group sizes below k: not for logs (P6).
        log.warning("report of unit %s withheld by the disclosure audit", unit_id)
        await chat.send_message(t._("This report cannot be shown right now."))
        return None


def _area_named(report: UnitReport, text: str, language: str) -> str | None:
    """The area a manager names: its label in their language (or its start), or its key."""
    wanted = " ".join(text.split()).casefold()
    for construct, labels in report.construct_labels.items():
        label = labels.get(language, construct).casefold()
        if wanted in (construct.casefold(), label) or (
            len(wanted) >= 3 and label.startswith(wanted)
        ):
            return str(construct)
    return None


async def photo(chat: Chat, png: bytes, caption: str, t: Texts) -> None:
    try:
        await chat.send_photo(io.BytesIO(png), caption=caption)
    except TelegramError as exc:  # a Bot API server without photos: say so, keep running
        log.warning("sendPhoto failed (%s)", type(exc).__name__)
        await chat.send_message(t._("Charts cannot be sent here; use /report for the figures."))


async def units(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/units: the units in the grant, with workers only where at least k."""
    staff = await staff_member(update, context)
    if staff is None:
        return
    t, scope = staff.t, staff.scope
    services = services_of(context)
    nodes = await asyncio.to_thread(unit_tree, services.db, services.settings.min_group_size)
    k = services.settings.min_group_size
    lines = [
        html.escape(
            t._(
                "Workers per unit, sub-units included; a count is shown only where no count "
                "below {k} can be worked out from it."
            ).format(k=k)
        ),
        "",
    ]
    for node in nodes:
        if node.unit.id not in scope:
            continue
        if node.members is not None:
            count = t._("{n} workers").format(n=node.members)
        elif node.too_few:
            count = t._("fewer than {k}").format(k=k)
        else:
            count = t._("not shown (it would reveal a smaller group)")
        lines.append(f"{'  ' * node.depth}{node.unit.id} · {html.escape(node.unit.name)} – {count}")
    if len(lines) == 2:
        await chat_of(update).send_message(t._("No units."))
        return
    for message in split_messages(lines):  # a large organisation takes several messages
        await chat_of(update).send_message(message, parse_mode=ParseMode.HTML)


# --- actions -------------------------------------------------------------------------------------

OVERDUE_WORDS = {"overdue", "försenade", "forsenade"}
#: Due dates offered as buttons, in days from today.
DUE_CHOICES = (14, 30, 90)
MAX_LISTED = 10


def _today(context: ContextTypes.DEFAULT_TYPE) -> date:
    services = services_of(context)
    return services.settings.today(services.clock())


async def actions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    context: ContextTypes.DEFAULT_TYPE,
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


async def _press_staff(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    pressed: Pressed,
    roles: frozenset[Role],
) -> tuple[Member, set[int]] | None:
    member = pressed.press.member
    if member is None or member.role not in roles:
        await query.answer(refusal(pressed.t, roles), show_alert=True)
        return None
    scope = await asyncio.to_thread(scope_of, services_of(context).db, member)
    return member, scope


async def _start_recording(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: RecordAction
) -> None:
    """First step: what the action answers - the report's findings and areas, or else."""
    found = await _press_staff(query, context, pressed, ACTORS)
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
                callback_data=signed(
                    context, ActionArea(unit_id, construct), query.from_user.id
                ),
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: ActionArea
) -> None:
    found = await _press_staff(query, context, pressed, ACTORS)
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
async def _action_title(
    update: Update, context: ContextTypes.DEFAULT_TYPE, prompt: Prompt, text: str
) -> None:
    title = await _checked(update, context, "title", text)
    if title is None:
        return
    t = await _texts(update, context)
    await await_answer(context, user_of(update).id, "action_owner", **prompt.data, title=title)
    await chat_of(update).send_message(t._("Who owns it? A name or a role."))


@on_answer("action_owner")
async def _action_owner(
    update: Update, context: ContextTypes.DEFAULT_TYPE, prompt: Prompt, text: str
) -> None:
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
async def _action_due_typed(
    update: Update, context: ContextTypes.DEFAULT_TYPE, prompt: Prompt, text: str
) -> None:
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: ActionDue
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
    context: ContextTypes.DEFAULT_TYPE,
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: MoveAction
) -> None:
    found = await _press_staff(query, context, pressed, ACTORS)
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
    context: ContextTypes.DEFAULT_TYPE,
    pressed: Pressed,
    button: ActionComment,
) -> None:
    found = await _press_staff(query, context, pressed, READERS)
    if found is None:
        return
    await query.answer()
    await await_answer(context, query.from_user.id, "action_comment", action=button.action_id)
    await context.bot.send_message(
        query.from_user.id, pressed.t._("Write your comment in one message.")
    )


@on_answer("action_comment")
async def _comment_written(
    update: Update, context: ContextTypes.DEFAULT_TYPE, prompt: Prompt, text: str
) -> None:
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


async def note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    if await asyncio.to_thread(results_sent, services.db, latest.round_id):
        await chat.send_message(
            t._(
                "The results of {week} have already gone out. Write your note when the next "
                "round has closed; you get its report then."
            ).format(week=t.week(latest.closed_at))
        )
        return
    try:
        await asyncio.to_thread(set_note, services.db, latest.round_id, staff.member.unit_id, text)
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


async def _checked(
    update: Update, context: ContextTypes.DEFAULT_TYPE, field: str, text: str
) -> str | None:
    """The typed words if survey/ accepts them for ``field``; otherwise says why (the prompt
    stays, so the next message is another try)."""
    try:
        return checked_text(field, text)
    except ActionError as exc:
        t = await _texts(update, context)
        await chat_of(update).send_message(exc.problem.in_language(t))
        return None


async def _texts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Texts:
    member = await member_of(context, user_of(update).id)
    return Texts(member.language if member else services_of(context).settings.language)


# --- talk requests: the reply ---------------------------------------------------------------------


async def _start_reply(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: TalkReply
) -> None:
    found = await _press_staff(query, context, pressed, READERS)
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
    update: Update, context: ContextTypes.DEFAULT_TYPE, prompt: Prompt, text: str
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


#: The buttons of managers and safety representatives.
BUTTONS = dict(
    [
        route(RecordAction, _start_recording),
        route(ActionArea, _chose_area),
        route(ActionDue, _due_pressed),
        route(MoveAction, _set_status),
        route(ActionComment, _start_comment),
        route(TalkReply, _start_reply),
    ]
)
