"""Workers in chat: joining with an invite, language, privacy, help, results on or off, pause,
resume and leave - everything a member says about their membership, and nothing of an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from bot.access import edit
from bot.buttons import Channel, ChooseLanguage, Leave, PrivacyDetails, Results
from bot.commands import set_staff_commands, staff_commands, worker_commands
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
from bot.privacy import details_keyboard, details_text, privacy_text
from bot.shared import App, Context
from survey.deliveries import set_checkin_channel, set_wants_results
from survey.enrolment import AlreadyEnrolledError, leave, set_status
from survey.i18n import Texts
from survey.invites import (
    ExpiredInviteError,
    InviteError,
    RevokedInviteError,
    TooManyAttemptsError,
    UnknownInviteError,
    UsedUpInviteError,
    redeem_invite,
)
from survey.roles import READERS
from survey.storage import Database
from survey.storage.models import CheckinChannel, Member, MemberStatus, Role

log = logging.getLogger(__name__)


def add_membership_handlers(application: App) -> None:
    private = filters.ChatType.PRIVATE
    for name, handler in (
        ("start", start),
        ("privacy", privacy),
        ("help", help_command),
        ("language", language),
        ("pause", pause),
        ("resume", resume),
        ("leave", leave_command),
        ("settings", settings_command),
    ):
        application.add_handler(CommandHandler(name, handler, filters=private))


async def start(update: Update, context: Context) -> None:
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    member = await member_of(context, user.id)
    lang = language_of(update, member, services.settings.language)
    t = Texts(lang)
    if not context.args:
        if member is not None:
            await chat.send_message(_help_text(t, member.role))
        else:
            await chat.send_message(
                t._("To join, open the invite link from your unit; your manager or admin has it.")
            )
        return
    try:
        member = await asyncio.to_thread(
            redeem_invite,
            services.db,
            services.keys,
            services.settings,
            token=context.args[0],
            telegram_user_id=user.id,
            chat_id=chat.id,
            language=lang,
        )
    except AlreadyEnrolledError:
        await chat.send_message(
            t._("You are already enrolled. Send /checkin to answer the open check-in.")
        )
        return
    except InviteError as exc:
        await chat.send_message(_invite_problem(t, exc))
        return
    await chat.send_message(
        html.escape(t._("Welcome to Staff Pulse! You have joined your unit's weekly check-in."))
        + "\n\n"
        + privacy_text(
            t, services.settings.min_group_size, answers_in_chat=services.answers_in_chat(None)
        ),
        parse_mode=ParseMode.HTML,
        reply_markup=details_keyboard(t, signed(context, PrivacyDetails(), user.id)),
    )
    await chat.send_message(
        t._("Which language do you want?"), reply_markup=_language_keyboard(context, user.id)
    )
    if member.role != Role.WORKER:
        try:
            await set_staff_commands(context.application, chat.id, member.language, member.role)
        except TelegramError:
            log.info("no staff command menu: the server lacks setMyCommands")


def _invite_problem(t: Texts, exc: InviteError) -> str:
    if isinstance(exc, TooManyAttemptsError):
        return t._("Too many wrong invite codes. Please wait a while and try again.")
    if isinstance(exc, ExpiredInviteError):
        return t._("This invite has expired. Ask for a new one.")
    if isinstance(exc, UsedUpInviteError):
        return t._("This invite has been used up. Ask for a new one.")
    if isinstance(exc, RevokedInviteError):
        return t._("This invite has been withdrawn. Ask for a new one.")
    if isinstance(exc, UnknownInviteError):
        return t._("This invite code is not valid. Check the link or ask for a new one.")
    return t._("This invite cannot be used. Ask for a new one.")


def _language_keyboard(context: Context, user_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "Svenska", callback_data=signed(context, ChooseLanguage("sv"), user_id)
                ),
                InlineKeyboardButton(
                    "English", callback_data=signed(context, ChooseLanguage("en"), user_id)
                ),
            ]
        ]
    )


def _help_text(t: Texts, role: Role | None) -> str:
    """The commands this person can use, from the same lists as their command menu."""
    commands = staff_commands(t.language, role) if role in READERS else worker_commands(t.language)
    lines = [t._("Staff Pulse asks a few short questions about your work week."), ""]
    lines += [f"/{c.command} – {c.description}" for c in commands if c.command != "help"]
    if role == Role.ADMIN:
        lines.append(t._("Send a question-set YAML file to check and activate it."))
    if role is None:
        lines += ["", t._("To join, open the invite link your unit gave you.")]
    return "\n".join(lines)


async def privacy(update: Update, context: Context) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    await chat_of(update).send_message(
        privacy_text(
            t,
            services.settings.min_group_size,
            answers_in_chat=services.answers_in_chat(member.checkin_channel if member else None),
        ),
        parse_mode=ParseMode.HTML,
        reply_markup=details_keyboard(t, signed(context, PrivacyDetails(), user_of(update).id)),
    )


async def help_command(update: Update, context: Context) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    await chat_of(update).send_message(_help_text(t, member.role if member else None))


async def plain_message(update: Update, context: Context) -> None:
    """Anything that is not a command or a file: a short answer with what one can do here,
    rather than silence (the bot reads no free text)."""
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    await chat_of(update).send_message(
        t._("I only understand the commands below and the buttons in my messages.")
        + "\n\n"
        + _help_text(t, member.role if member else None)
    )


async def language(update: Update, context: Context) -> None:
    user = update.effective_user
    assert user is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    await chat_of(update).send_message(
        t._("Which language do you want?"), reply_markup=_language_keyboard(context, user.id)
    )


async def _set_status(update: Update, context: Context, status: MemberStatus) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    if member is None:
        await chat_of(update).send_message(not_enrolled(t))
        return
    await asyncio.to_thread(set_status, services.db, member.id, status)
    if status == MemberStatus.PAUSED:
        text = t._("Paused: you get no check-ins until you send /resume.")
    else:
        text = t._("Welcome back: you will get the next check-in.")
    await chat_of(update).send_message(text)


async def pause(update: Update, context: Context) -> None:
    await _set_status(update, context, MemberStatus.PAUSED)


async def resume(update: Update, context: Context) -> None:
    await _set_status(update, context, MemberStatus.ACTIVE)


async def leave_command(update: Update, context: Context) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None:
        await chat.send_message(not_enrolled(t))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("Leave"), callback_data=signed(context, Leave("leave"), user.id)
                ),
                InlineKeyboardButton(
                    t._("Stay"), callback_data=signed(context, Leave("stay"), user.id)
                ),
            ]
        ]
    )
    await chat.send_message(
        t._(
            "Leaving deletes your membership: your pseudonym, encrypted chat id, unit and any "
            "request to talk. Answers you already sent stay, anonymous and tied to no one. Do "
            "you want to leave?"
        ),
        reply_markup=keyboard,
    )


def not_enrolled(t: Texts) -> str:
    return t._("You are not enrolled. Open the invite link from your unit to join.")


async def _choose_language(
    query: CallbackQuery,
    context: Context,
    pressed: Pressed,
    button: ChooseLanguage,
) -> None:
    member, chosen = pressed.press.member, button.language
    services = services_of(context)
    t = Texts(chosen)
    if member is not None:
        await asyncio.to_thread(_set_language, services.db, member.id, chosen)
    await query.answer()
    await query.edit_message_text(
        t._("Language: English") if chosen == "en" else t._("Language: Swedish")
    )


def _set_language(db: Database, member_id: int, language: str) -> None:
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is not None:
            member.language = language


async def _leave_answer(
    query: CallbackQuery, context: Context, pressed: Pressed, button: Leave
) -> None:
    member, t = pressed.press.member, pressed.t
    await query.answer()
    if button.choice != "leave" or member is None:
        await query.edit_message_text(t._("Good, you stay."))
        return
    await asyncio.to_thread(leave, services_of(context).db, member.id)
    await query.edit_message_text(t._("You have left. Thank you for taking part."))


async def _privacy_details(
    query: CallbackQuery, context: Context, pressed: Pressed, _: PrivacyDetails
) -> None:
    await query.answer()
    await context.bot.send_message(
        query.from_user.id, details_text(pressed.t), parse_mode=ParseMode.HTML
    )


async def settings_command(update: Update, context: Context) -> None:
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None:
        await chat_of(update).send_message(not_enrolled(t))
        return
    text, keyboard = _results_setting(context, t, member.wants_results, user_of(update).id)
    await chat_of(update).send_message(text, reply_markup=keyboard)
    page = services_of(context).checkin_page
    if page is not None:
        chosen = CheckinChannel(member.checkin_channel) if member.checkin_channel else None
        text, keyboard = _channel_setting(context, t, chosen or page.default, user_of(update).id)
        await chat_of(update).send_message(text, reply_markup=keyboard)


def _channel_setting(
    context: Context, t: Texts, channel: CheckinChannel, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Where to answer: the page keeps answers away from Telegram; the chat's buttons are the
    fallback for anyone whose phone will not open it."""
    if channel == CheckinChannel.WEBAPP:
        text = t._(
            "You answer on a page of our own, opened from the chat: Telegram never sees your "
            "answers. If the page does not work on your phone, you can answer with buttons in "
            "the chat instead (Telegram then carries your answers)."
        )
        button = InlineKeyboardButton(
            t._("Answer in the chat instead"),
            callback_data=signed(context, Channel("chat"), user_id),
        )
    else:
        text = t._(
            "You answer with buttons in the chat, so your answers pass through Telegram. On "
            "the page, opened from the chat, Telegram never sees them."
        )
        button = InlineKeyboardButton(
            t._("Answer on the page"), callback_data=signed(context, Channel("webapp"), user_id)
        )
    return text, InlineKeyboardMarkup([[button]])


async def _channel_choice(
    query: CallbackQuery, context: Context, pressed: Pressed, button: Channel
) -> None:
    member, t = pressed.press.member, pressed.t
    if member is None:
        await query.answer(not_enrolled(t), show_alert=True)
        return
    channel = CheckinChannel(button.choice)
    await asyncio.to_thread(set_checkin_channel, services_of(context).db, member.id, channel)
    await query.answer(t._("Saved."))
    text, keyboard = _channel_setting(context, t, channel, query.from_user.id)
    with contextlib.suppress(TelegramError):
        await edit(query, html.escape(text), keyboard)


def _results_setting(
    context: Context, t: Texts, wanted: bool, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    if wanted:
        text = t._(
            "After each round you get your group's results: a few figures, your manager's "
            "note and the actions taken. Language: /language."
        )
        button = InlineKeyboardButton(
            t._("No more summaries"), callback_data=signed(context, Results("off"), user_id)
        )
    else:
        text = t._("Results summaries are off. Language: /language.")
        button = InlineKeyboardButton(
            t._("Send me the results"), callback_data=signed(context, Results("on"), user_id)
        )
    return text, InlineKeyboardMarkup([[button]])


async def _results_choice(
    query: CallbackQuery, context: Context, pressed: Pressed, button: Results
) -> None:
    member, t, wanted = pressed.press.member, pressed.t, button.choice == "on"
    if member is None:
        await query.answer(not_enrolled(t), show_alert=True)
        return
    await asyncio.to_thread(set_wants_results, services_of(context).db, member.id, wanted)
    await query.answer(t._("Saved."))
    text = (
        t._("You will get the results after each round. /settings turns them off.")
        if wanted
        else t._("No more results summaries. /settings turns them on again.")
    )
    with contextlib.suppress(TelegramError):
        await query.message.reply_text(text)  # type: ignore[union-attr]  # a press comes with its message


#: The buttons of membership: language, privacy details, leaving, results on or off.
BUTTONS = dict(
    [
        route(ChooseLanguage, _choose_language),
        route(PrivacyDetails, _privacy_details),
        route(Leave, _leave_answer),
        route(Results, _results_choice),
        route(Channel, _channel_choice),
    ]
)
