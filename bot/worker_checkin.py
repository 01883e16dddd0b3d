"""Workers in chat: the check-in, one question at a time in one message edited in place.

The unfinished check-in lives only in the signed buttons (bot.checkin, P5); sending goes through
survey/'s intake (sealing, one answer per round, the participation mark: P1-P3). After sending:
thanks, and the choice to remove the message from the chat or keep it (P9).
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
from bot.buttons import AfterCheckin, Talk
from bot.checkin import CheckinState, Screen, answers_of, page_screen, step
from bot.context import (
    Pressed,
    language_of,
    member_of,
    route,
    services_of,
    signed,
    views_for,
)
from bot.shared import App, Context
from bot.worker_membership import not_enrolled
from survey.i18n import Texts
from survey.lifecycle import Press, has_answered, open_round_for
from survey.storage import DatabaseUnavailableError
from survey.storage.models import Member, SurveyRound
from survey.submissions import AlreadyAnsweredError, RoundNotOpenError, SubmissionError

log = logging.getLogger(__name__)


def add_checkin_handlers(application: App) -> None:
    application.add_handler(CommandHandler("checkin", checkin, filters=filters.ChatType.PRIVATE))


async def checkin(update: Update, context: Context) -> None:
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    member = await member_of(context, user.id)
    t = Texts(language_of(update, member, services.settings.language))
    if member is None:
        await chat.send_message(not_enrolled(t))
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
    page = services.page_for(survey_round.id, member.language, member.checkin_channel)
    if page is not None:
        text, keyboard = page_screen(t, page)
    else:
        screen = await _screen(context, survey_round, member, user.id)
        text, keyboard = screen.render(CheckinState(survey_round.id, ()))
    await chat.send_message(text, reply_markup=keyboard, parse_mode=ParseMode.HTML)


async def _screen(
    context: Context, survey_round: SurveyRound, member: Member, user_id: int
) -> Screen:
    views = await views_for(
        context.application.bot_data, survey_round, member.language, member.unit_id
    )
    services = services_of(context)
    return Screen(views, Texts(member.language), services.keys.button_signer(), user_id)


async def _checkin_press(
    query: CallbackQuery,
    context: Context,
    member: Member,
    t: Texts,
    decoded: tuple[CheckinState, str],
    press: Press,
) -> None:
    """One press of a check-in button: the next screen, or the summary, or sending. Long
    because each action of the check-in's codec is one short branch."""
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
    context: Context,
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
    query: CallbackQuery, context: Context, t: Texts
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


async def checkin_button(
    query: CallbackQuery, context: Context, pressed: Pressed
) -> None:
    """A check-in button (its own codec: bot.checkin)."""
    member = pressed.press.member
    if pressed.checkin is None or member is None:
        await query.answer(pressed.t._("This button is out of date."))
        return
    await _checkin_press(query, context, member, pressed.t, pressed.checkin, pressed.press)


async def _after_checkin(
    query: CallbackQuery, context: Context, pressed: Pressed, button: AfterCheckin
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


#: Under the thanks after a check-in (the check-in's own buttons come through checkin_button).
BUTTONS = dict([route(AfterCheckin, _after_checkin)])
