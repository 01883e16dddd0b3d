"""Admins in chat: invite links, question-set uploads and the schedules' response rates.

What is valid is survey/'s to decide (the question-set loader, invite terms); this module
reads the admin's request and says the outcome in their language.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import logging
from datetime import datetime

from sqlmodel import col, select
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.access import outside_grant, staff_member
from bot.buttons import ActivateQuestionSet
from bot.context import Pressed, chat_of, route, services_of, signed, user_of
from bot.messages import split_messages
from bot.shared import App, Context
from survey.figures import UnitFigure, stored_figure
from survey.i18n import Texts
from survey.invites import create_invite, default_terms, invite_link, write_qr_png
from survey.lifecycle import list_schedules
from survey.questions import (
    QuestionSetError,
    import_question_set,
    items_for_round,
    load_question_set,
)
from survey.questions.loader import MAX_FILE_BYTES
from survey.roles import ADMINS
from survey.storage import Database
from survey.storage.models import (
    Role,
    RoundState,
    RoundStatistic,
    Schedule,
    SurveyRound,
)

log = logging.getLogger(__name__)
#: How long checking an uploaded question set may take before the admin is told it failed.
UPLOAD_CHECK_SECONDS = 10


def add_admin_handlers(application: App) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("invite", invite, filters=private))
    application.add_handler(CommandHandler("rounds", rounds, filters=private))
    application.add_handler(MessageHandler(private & filters.Document.ALL, upload))


async def invite(update: Update, context: Context) -> None:
    """/invite <unit> <worker|manager|admin>: an invite link and its QR code (admins)."""
    staff = await staff_member(update, context, roles=ADMINS)
    if staff is None:
        return
    t, scope = staff.t, staff.scope
    chat = update.effective_chat
    assert chat is not None
    args = context.args or []
    try:
        unit_id, role = int(args[0]), _role_named(args[1] if len(args) > 1 else "worker", t)
    except (IndexError, ValueError):
        await chat.send_message(
            t._("Use: /invite <unit id> <{roles}>").format(
                roles="|".join(t.role(r.value) for r in Role)
            )
        )
        return
    if unit_id not in scope:
        await chat.send_message(outside_grant(t))
        return
    services = services_of(context)
    life, uses = default_terms(services.settings, role)
    created = await asyncio.to_thread(
        create_invite, services.db, unit_id=unit_id, role=role, expires_in=life, max_uses=uses
    )
    username = services.settings.bot_username or context.bot.username
    link = invite_link(username, created.token)
    if role == Role.WORKER:
        terms = t._(
            "Invite for workers of unit {unit}, for up to {uses} people, valid {days} days:"
        )
        text = terms.format(unit=unit_id, uses=uses, days=life.days)
    else:
        terms = t._(
            "Invite for one person as {role} of unit {unit}, valid {hours} hours. It works once: "
            "send it only to that person, and make a new one for each:"
        )
        role_name = t.role(role.value)
        text = terms.format(role=role_name, unit=unit_id, hours=int(life.total_seconds() // 3600))
    await chat.send_message(text + "\n" + link)
    try:
        buffer = io.BytesIO()
        await asyncio.to_thread(_qr_into, link, buffer)
        await chat.send_photo(buffer, caption=t._("QR code for posters and slides"))
    except TelegramError as exc:
        log.warning("sendPhoto failed (%s)", type(exc).__name__)


def _role_named(word: str, t: Texts) -> Role:
    """A role in English or in the admin's language ("chef" for manager in Swedish)."""
    wanted = word.casefold()
    for role in Role:
        if wanted in (role.value, t.role(role.value).casefold()):
            return role
    raise ValueError(word)


def _qr_into(link: str, buffer: io.BytesIO) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        buffer.write(write_qr_png(link, Path(folder) / "qr.png").read_bytes())
    buffer.seek(0)


async def upload(update: Update, context: Context) -> None:
    """An admin sends a question-set YAML: checked; errors listed, or a preview to activate."""
    staff = await staff_member(update, context, roles=ADMINS)
    if staff is None:
        return
    t = staff.t
    message, chat = update.effective_message, update.effective_chat
    assert message is not None
    assert message.document is not None
    assert chat is not None
    document = message.document
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await chat.send_message(t._("That file is too large for a question set."))
        return
    file = await document.get_file()
    content = bytes(await file.download_as_bytearray())
    try:
        # Off the event loop, and bounded: the loader refuses hostile files quickly, and
        # whatever it still costs may not hold up the answer to the admin for long.
        question_set = await asyncio.wait_for(
            asyncio.to_thread(load_question_set, content, document.file_name or "upload.yaml"),
            timeout=UPLOAD_CHECK_SECONDS,
        )
    except TimeoutError:
        await chat.send_message(t._("Checking this file took too long; nothing was imported."))
        return
    except QuestionSetError as exc:
        lines = [t._("This question set has problems; nothing was imported:")]
        lines += [p.render(exc.source, t) for p in exc.problems[:20]]
        await chat.send_message("\n".join(lines))
        return
    digest = hashlib.sha256(content).hexdigest()[:16]
    context.application.bot_data.uploads[digest] = question_set
    rounds = max(item.cadence for item in question_set.items)
    preview = [
        t._("Question set {id}: {n} items, valid.").format(
            id=question_set.id, n=len(question_set.items)
        )
    ]
    for index in range(rounds):
        keys = ", ".join(i.key for i in items_for_round(question_set, index))
        preview.append(t._("Week {n}: {items}").format(n=index + 1, items=keys))
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("Activate"),
                    callback_data=signed(context, ActivateQuestionSet(digest), user_of(update).id),
                )
            ]
        ]
    )
    await chat.send_message("\n".join(preview), reply_markup=keyboard)


async def _activate_upload(
    query: CallbackQuery,
    context: Context,
    pressed: Pressed,
    button: ActivateQuestionSet,
) -> None:
    member, t = pressed.press.member, pressed.t
    question_set = context.application.bot_data.uploads.pop(button.digest, None)
    if member is None or member.role != Role.ADMIN or question_set is None:
        await query.answer(t._("This button is out of date."))
        return
    db = services_of(context).db
    result = await asyncio.to_thread(import_question_set, db, question_set)
    using = [
        s.id
        for s in await asyncio.to_thread(list_schedules, db)
        if result.set_id in s.question_sets
    ]
    text = t._("Imported {id} version {version}; active for rounds opened from now on.").format(
        id=result.set_id, version=result.version
    )
    if using:
        text += " " + t._("Schedules that ask it: {ids}.").format(ids=", ".join(map(str, using)))
    else:
        text += " " + t._(
            "No schedule asks it yet: it is used once a schedule includes it "
            "(pulse schedules create --sets {id})."
        ).format(id=result.set_id)
    await query.answer()
    await query.edit_message_text(text)


async def rounds(update: Update, context: Context) -> None:
    """/rounds: schedules, and response rates of closed rounds (admins; never open counts)."""
    staff = await staff_member(update, context, roles=ADMINS)
    if staff is None:
        return
    t, scope = staff.t, staff.scope
    services = services_of(context)
    schedules, closed = await asyncio.to_thread(_rounds_overview, services.db, scope)
    lines = ["<b>" + html.escape(t._("Schedules")) + "</b>"]
    for s in schedules:
        state = t._("active") if s.active else t._("paused")
        when = t._("{cadence}, {weekday} {time}").format(
            cadence=t.cadence(s.cadence), weekday=t.weekday(s.weekday), time=s.local_time
        )
        lines.append(
            f"{s.id} · {html.escape('+'.join(s.question_sets))} · {html.escape(when)} · {state}"
        )
    lines += ["", "<b>" + html.escape(t._("Closed rounds")) + "</b>"]
    for closed_at, figures, k in closed:
        date = closed_at.strftime("%Y-%m-%d")
        if not figures.get("shown"):
            # Listed, so a quiet week is not mistaken for a missing one; said as the rules allow.
            if figures.get("reason") == "members":
                text = t._("{date}: not shown (fewer than {members} members)").format(
                    date=date, members=figures.get("min_members", k + 1)
                )
            elif figures.get("reason") == "neighbours":
                text = t._(
                    "{date}: not shown (its figures would let a smaller group be worked out)"
                ).format(date=date)
            else:
                text = t._("{date}: not shown (fewer than {k} answered)").format(date=date, k=k)
            lines.append(html.escape(text))
            continue
        respondents, members = figures["respondents"], figures["members"]
        rate = t.percent(respondents / members) if members else "–"
        # "at least": the count was capped so that nobody can tell everyone answered (P6).
        message = (
            t._("{date}: at least {n} answered of {members} ({rate})")
            if figures.get("respondents_at_least")
            else t._("{date}: {n} answered of {members} ({rate})")
        )
        lines.append(
            html.escape(message.format(date=date, n=respondents, members=members, rate=rate))
        )
    for message in split_messages(lines):
        await chat_of(update).send_message(message, parse_mode=ParseMode.HTML)


def _rounds_overview(
    db: Database, scope: set[int]
) -> tuple[list[Schedule], list[tuple[datetime, UnitFigure, int]]]:
    """Schedules of units in scope; per closed round the organisation-level published counts."""
    with db.session() as session:
        schedules = [s for s in session.exec(select(Schedule)).all() if s.unit_id in scope]
        closed: list[tuple[datetime, UnitFigure, int]] = []
        for survey_round in session.exec(
            select(SurveyRound)
            .where(SurveyRound.state == RoundState.CLOSED)
            .order_by(col(SurveyRound.closes_at).desc())
        ).all()[:12]:
            if survey_round.unit_id not in scope:
                continue
            top = session.get(RoundStatistic, (survey_round.id, survey_round.unit_id))
            if top is not None:  # statistics computed: what was published, shown or not
                closed.append(
                    (
                        survey_round.closed_at or survey_round.closes_at,
                        stored_figure(dict(top.figures), top.figures_version),
                        survey_round.min_group_size,
                    )
                )
    return schedules, closed


#: The admins' buttons.
BUTTONS = dict([route(ActivateQuestionSet, _activate_upload)])
