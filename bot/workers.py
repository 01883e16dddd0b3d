"""Workers in chat: joining, the check-in, privacy, language, pausing and leaving.

No rule lives here: enrolment, eligibility, validation and privacy are survey/'s; a handler
reads what the person did, calls one survey function (in a worker thread, so the event loop keeps
serving others), and says the outcome in the person's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.access import edit
from bot.acknowledge import answer_press, replace, stored
from bot.buttons import AfterCheckin, ChooseLanguage, Leave, PrivacyDetails, Results, Talk
from bot.checkin import CheckinState, Screen, answers_of, step
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
    views_for,
)
from bot.privacy import details_keyboard, details_text, privacy_text
from survey.deliveries import set_wants_results
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
from survey.lifecycle import Press, has_answered, open_round_for
from survey.roles import READERS
from survey.storage import Database, DatabaseUnavailableError
from survey.storage.models import Member, MemberStatus, Role, SurveyRound, TalkRecipient
from survey.submissions import AlreadyAnsweredError, RoundNotOpenError, SubmissionError
from survey.talk import TalkError, available_recipients, request_talk

log = logging.getLogger(__name__)


def add_worker_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    for name, handler in (
        ("start", start),
        ("checkin", checkin),
        ("privacy", privacy),
        ("help", help_command),
        ("language", language),
        ("pause", pause),
        ("resume", resume),
        ("leave", leave_command),
        ("talk", talk),
        ("settings", settings_command),
    ):
        application.add_handler(CommandHandler(name, handler, filters=private))


# --- joining -------------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
        + privacy_text(t, services.settings.min_group_size),
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


def _language_keyboard(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> InlineKeyboardMarkup:
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


# --- simple commands ----------------------------------------------------------------------


async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    await chat_of(update).send_message(
        privacy_text(t, services.settings.min_group_size),
        parse_mode=ParseMode.HTML,
        reply_markup=details_keyboard(t, signed(context, PrivacyDetails(), user_of(update).id)),
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    await chat_of(update).send_message(_help_text(t, member.role if member else None))


async def plain_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    assert user is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    await chat_of(update).send_message(
        t._("Which language do you want?"), reply_markup=_language_keyboard(context, user.id)
    )


async def _set_status(
    update: Update, context: ContextTypes.DEFAULT_TYPE, status: MemberStatus
) -> None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services.settings.language))
    if member is None:
        await chat_of(update).send_message(_not_enrolled(t))
        return
    await asyncio.to_thread(set_status, services.db, member.id, status)
    if status == MemberStatus.PAUSED:
        text = t._("Paused: you get no check-ins until you send /resume.")
    else:
        text = t._("Welcome back: you will get the next check-in.")
    await chat_of(update).send_message(text)


async def pause(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_status(update, context, MemberStatus.PAUSED)


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_status(update, context, MemberStatus.ACTIVE)


async def leave_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None:
        await chat.send_message(_not_enrolled(t))
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


def _not_enrolled(t: Texts) -> str:
    return t._("You are not enrolled. Open the invite link from your unit to join.")


# --- the check-in -------------------------------------------------------------------------


async def checkin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services.settings.language))
    if member is None:
        await chat.send_message(_not_enrolled(t))
        return
    survey_round = await asyncio.to_thread(open_round_for, services.db, member, services.clock())
    if survey_round is None:
        await chat.send_message(
            t._("No check-in is open right now. You will get a message when the next one opens.")
        )
        return
    if await asyncio.to_thread(has_answered, services.db, survey_round.id, member):
        await chat.send_message(t._("You have already answered this check-in. Thank you!"))
        return
    screen = await _screen(context, survey_round, member, user.id)
    text, keyboard = screen.render(CheckinState(survey_round.id, ()))
    await chat.send_message(text, reply_markup=keyboard, parse_mode=ParseMode.HTML)


async def _screen(
    context: ContextTypes.DEFAULT_TYPE, survey_round: SurveyRound, member: Member, user_id: int
) -> Screen:
    views = await views_for(
        context.application.bot_data, survey_round, member.language, member.unit_id
    )
    services = services_of(context)
    return Screen(views, Texts(member.language), services.keys.button_signer(), user_id)


async def _choose_language(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: Leave
) -> None:
    member, t = pressed.press.member, pressed.t
    await query.answer()
    if button.choice != "leave" or member is None:
        await query.edit_message_text(t._("Good, you stay."))
        return
    await asyncio.to_thread(leave, services_of(context).db, member.id)
    await query.edit_message_text(t._("You have left. Thank you for taking part."))


async def _checkin_press(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    member: Member,
    t: Texts,
    decoded: tuple[CheckinState, str],
    press: Press,
) -> None:
    services = services_of(context)
    state, action = decoded
    # An old invitation or reminder says so at the first press, not after the last question.
    if press.round is None or not press.round_is_open(services.clock()):
        await _stale_checkin(query, context, member, t, t._("This check-in has closed."))
        return
    if press.answered:
        already = t._("You have already answered this check-in. Thank you!")
        if action == "s":  # a double tap on "send": the thanks are (about to be) shown
            await query.answer(already)
            return
        await _stale_checkin(query, context, member, t, already)
        return
    survey_round = press.round
    screen = await _screen(context, survey_round, member, query.from_user.id)
    after = step(screen.views, state, action)
    if after is None:
        await query.answer(t._("This button is out of date."))
        return
    if action != "s":
        await query.answer()
        text, keyboard = screen.render(after)
        await edit(query, text, keyboard)
        return
    try:
        await services.intake.submit(
            member_id=member.id,
            round_id=state.round_id,
            answers=answers_of(screen.views, after),
            now=services.clock(),
        )
    except AlreadyAnsweredError:
        await query.answer(t._("You have already answered this check-in. Thank you!"))
        return
    except RoundNotOpenError:
        await query.answer(t._("This check-in has closed."))
        return
    except SubmissionError:
        await query.answer(
            t._("These answers could not be saved. Please start again with /checkin."),
            show_alert=True,
        )
        return
    except DatabaseUnavailableError:
        await query.answer(
            t._(
                "Something went wrong on our side and nothing was saved. Please "
                "try again in a moment."
            ),
            show_alert=True,
        )
        return
    await _acknowledge_saved(query, context, t)


async def _stale_checkin(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    member: Member,
    t: Texts,
    reason: str,
) -> None:
    """Close an out-of-date check-in message: say why, take its buttons away, and point to the
    check-in that is open now, if there is one."""
    await query.answer(reason)
    services = services_of(context)
    current = await asyncio.to_thread(open_round_for, services.db, member, services.clock())
    text = html.escape(reason)
    if current is not None and not await asyncio.to_thread(
        has_answered, services.db, current.id, member
    ):
        text += "\n\n" + html.escape(t._("Another check-in is open now: /checkin"))
    with contextlib.suppress(TelegramError):
        await edit(query, text, None)


async def _acknowledge_saved(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, t: Texts
) -> None:
    """The answers are committed: from here the member must learn that, whatever Telegram
    answers. A failed edit is tried once more, then the thanks come as a new message; no error
    from here may reach the handler that says "nothing was saved"."""
    with contextlib.suppress(TelegramError):
        await query.answer(t._("Saved."))
    thanks = _thanks(t)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("Delete the message"),
                    callback_data=signed(context, AfterCheckin(""), query.from_user.id),
                ),
                InlineKeyboardButton(
                    t._("Keep it"),
                    callback_data=signed(context, AfterCheckin("keep"), query.from_user.id),
                ),
            ],
            # The same offer after every check-in, whatever was answered (it is /talk).
            [
                InlineKeyboardButton(
                    t._("I would like to talk about my work situation"),
                    callback_data=signed(context, Talk(None), query.from_user.id),
                )
            ],
        ]
    )
    offer = t._(
        "Your answers are no longer shown here. This message still shows that you took part "
        "in this check-in (not what you answered) to anyone who sees your phone. Delete it?"
    )
    for attempt in range(2):
        try:
            await edit(query, html.escape(thanks + "\n\n" + offer), keyboard)
            return
        except TelegramError as exc:
            log.warning("thanks could not be shown (%s), attempt %d", type(exc).__name__, attempt)
            await asyncio.sleep(0.5)
    try:
        await context.bot.send_message(query.from_user.id, thanks)  # a private chat: same id
    except TelegramError as exc:
        log.warning("thanks not sent either (%s); the answers are saved", type(exc).__name__)


def _thanks(t: Texts) -> str:
    return t._("Thank you! Your answers are sealed and saved, with no link to you.")


# --- buttons -------------------------------------------------------------------------------------


async def checkin_button(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed
) -> None:
    """A check-in button (its own codec: bot.checkin)."""
    member = pressed.press.member
    if pressed.checkin is None or member is None:
        await query.answer(pressed.t._("This button is out of date."))
        return
    await _checkin_press(query, context, member, pressed.t, pressed.checkin, pressed.press)


async def _after_checkin(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: AfterCheckin
) -> None:
    """Under the thanks: keep the check-in message, or remove it from the chat."""
    await query.answer()
    if button.choice == "keep":
        with contextlib.suppress(TelegramError):
            await edit(query, html.escape(_thanks(pressed.t)), None)
        return
    try:
        await query.message.delete()  # type: ignore[union-attr]  # a button press always comes with its message
    except TelegramError:
        log.info("could not delete a check-in message (older than 48 h or not allowed)")


async def _privacy_details(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, _: PrivacyDetails
) -> None:
    await query.answer()
    await context.bot.send_message(
        query.from_user.id, details_text(pressed.t), parse_mode=ParseMode.HTML
    )




# --- results summaries on or off -----------------------------------------------------------------


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None:
        await chat_of(update).send_message(_not_enrolled(t))
        return
    text, keyboard = _results_setting(context, t, member.wants_results, user_of(update).id)
    await chat_of(update).send_message(text, reply_markup=keyboard)


def _results_setting(
    context: ContextTypes.DEFAULT_TYPE, t: Texts, wanted: bool, user_id: int
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: Results
) -> None:
    member, t, wanted = pressed.press.member, pressed.t, button.choice == "on"
    if member is None:
        await query.answer(_not_enrolled(t), show_alert=True)
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


# --- asking to talk -------------------------------------------------------------------------------


def _talk_text(t: Texts) -> str:
    return t._(
        "Would you like to talk to someone about your work situation? Choose whom to ask.\n\n"
        "This request is NOT anonymous: the person you choose sees your Telegram name and "
        "can reply here. Your check-in answers stay anonymous and are never linked to it; "
        "the request holds no answer and no time finer than the day. Requests go out once a "
        "day, the morning after you ask."
    )


async def talk(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/talk: the offer to talk, the same for everyone."""
    member = await member_of(context, user_of(update).id)
    t = Texts(language_of(update, member, services_of(context).settings.language))
    if member is None or member.role != Role.WORKER:
        await chat_of(update).send_message(
            _not_enrolled(t) if member is None else t._("This is for workers of a unit.")
        )
        return
    text, keyboard = await _talk_offer(context, member, t, user_of(update).id)
    await chat_of(update).send_message(text, reply_markup=keyboard)


async def _talk_offer(
    context: ContextTypes.DEFAULT_TYPE, member: Member, t: Texts, user_id: int
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
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, pressed: Pressed, button: Talk
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
BUTTONS = dict(
    [
        route(ChooseLanguage, _choose_language),
        route(AfterCheckin, _after_checkin),
        route(PrivacyDetails, _privacy_details),
        route(Leave, _leave_answer),
        route(Results, _results_choice),
        route(Talk, _talk_press),
    ]
)
