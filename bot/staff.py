"""Managers and admins in chat: reports within their grant, invites, question-set uploads.

Scope is survey/'s rule (``scope_of``: the granted unit and its sub-units); disclosure control
and the audit are aggregation/'s. Nothing here can show an open round: reports read only the
published statistics of closed rounds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import io
import logging
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from telegram import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from aggregation.charts import area_chart, units_heatmap
from aggregation.findings import ranked_findings
from aggregation.render import report_text, split_messages
from aggregation.report import ReportError, UnitReport, build_report
from bot.context import chat_of, member_of, services_of, signed, user_of
from survey.enrolment import scope_of, unit_tree, units_named
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
from survey.roles import READERS
from survey.storage import Database
from survey.storage.models import (
    Member,
    Role,
    RoundState,
    RoundStatistic,
    Schedule,
    SurveyRound,
)

log = logging.getLogger(__name__)
#: How long checking an uploaded question set may take before the admin is told it failed.
UPLOAD_CHECK_SECONDS = 10


def add_staff_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("report", report, filters=private))
    application.add_handler(CommandHandler("trend", trend, filters=private))
    application.add_handler(CommandHandler("units", units, filters=private))
    application.add_handler(CommandHandler("invite", invite, filters=private))
    application.add_handler(CommandHandler("rounds", rounds, filters=private))
    application.add_handler(MessageHandler(private & filters.Document.ALL, upload))


async def _staff(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    roles: frozenset[Role] = READERS,
) -> tuple[Member, Texts, set[int]] | None:
    services = services_of(context)
    member = await member_of(context, user_of(update).id)
    language = member.language if member else services.settings.language
    t = Texts(language)
    if member is None or member.role not in roles:
        if roles == {Role.ADMIN}:
            refusal = t._("This is for admins.")
        else:
            refusal = t._("This command is for managers and admins.")
        await chat_of(update).send_message(refusal)
        return None
    scope = await asyncio.to_thread(scope_of, services.db, member)
    return member, t, scope


async def _unit_argument(
    update: Update, context: ContextTypes.DEFAULT_TYPE, member: Member, t: Texts, scope: set[int]
) -> int | None:
    """The unit a command names: none (one's own unit), an id, or a name within the grant.
    Says what is wrong and returns None when that is not one unit of the grant."""
    chat = chat_of(update)
    outside = t._("You can see only the units you were given access to. /units lists them.")
    if not context.args:
        return member.unit_id
    text = " ".join(context.args)
    if text.isdigit():
        if int(text) not in scope:
            await chat.send_message(outside)
            return None
        return int(text)
    found = await asyncio.to_thread(units_named, services_of(context).db, text, scope)
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


async def _granted_report(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Member, Texts, UnitReport] | None:
    """The report of the unit asked for (default: one's own), if it is within the grant."""
    found = await _staff(update, context)
    if found is None:
        return None
    member, t, scope = found
    unit_id = await _unit_argument(update, context, member, t, scope)
    if unit_id is None:
        return None
    built = await _report_of(context, unit_id, t, chat_of(update))
    return None if built is None else (member, t, built)


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report [unit]: the latest closed rounds of a unit within the grant, and its sub-units
    at a glance (a chart) where it has any."""
    granted = await _granted_report(update, context)
    if granted is None:
        return
    member, t, built = granted
    chat = chat_of(update)
    for message in report_text(built, member.language):
        await chat.send_message(message, parse_mode=ParseMode.HTML)
    if not built.latest.get("shown"):
        return
    heat = await asyncio.to_thread(units_heatmap, services_of(context).db, built, member.language)
    if heat is not None:
        await _photo(chat, heat, t._("Sub-units, latest figures"), t)


async def trend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/trend [area or unit]: one area over time, drawn for a phone. Without an area: the area
    that needs attention first; the caption names the others."""
    found = await _staff(update, context)
    if found is None:
        return
    member, t, scope = found
    text = " ".join(context.args or [])
    built: UnitReport | None = None
    area: str | None = None
    db = services_of(context).db
    if (
        text and not text.isdigit() and not await asyncio.to_thread(units_named, db, text, scope)
    ):  # not a unit: an area of one's own unit, e.g. /trend stöd
        own = await _report_of(context, member.unit_id, t, chat_of(update))
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
    await _photo(chat, png, caption, t)


async def _report_of(
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


async def _photo(chat: Chat, png: bytes, caption: str, t: Texts) -> None:
    try:
        await chat.send_photo(io.BytesIO(png), caption=caption)
    except TelegramError as exc:  # a Bot API server without photos: say so, keep running
        log.warning("sendPhoto failed (%s)", type(exc).__name__)
        await chat.send_message(t._("Charts cannot be sent here; use /report for the figures."))


async def units(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/units: the units in the grant, with workers only where at least k."""
    found = await _staff(update, context)
    if found is None:
        return
    _, t, scope = found
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


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/invite <unit> <worker|manager|admin>: an invite link and its QR code (admins)."""
    found = await _staff(update, context, roles=frozenset({Role.ADMIN}))
    if found is None:
        return
    _, t, scope = found
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
        await chat.send_message(
            t._("You can see only the units you were given access to. /units lists them.")
        )
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


async def upload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin sends a question-set YAML: checked; errors listed, or a preview to activate."""
    found = await _staff(update, context, roles=frozenset({Role.ADMIN}))
    if found is None:
        return
    _, t, _ = found
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
    context.application.bot_data.setdefault("uploads", {})[digest] = question_set
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
                    callback_data=signed(context, f"qa|{digest}", user_of(update).id),
                )
            ]
        ]
    )
    await chat.send_message("\n".join(preview), reply_markup=keyboard)


async def activate_upload(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    member: Member | None,
    t: Texts,
    digest: str,
) -> None:
    question_set = context.application.bot_data.get("uploads", {}).pop(digest, None)
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


async def rounds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/rounds: schedules, and response rates of closed rounds (admins; never open counts)."""
    found = await _staff(update, context, roles=frozenset({Role.ADMIN}))
    if found is None:
        return
    _, t, scope = found
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
                    date=date, members=k + 1
                )
            else:
                text = t._("{date}: not shown (fewer than {k} answered)").format(date=date, k=k)
            lines.append(html.escape(text))
            continue
        respondents, members = figures["respondents"], figures["members"]
        rate = t.percent(respondents / members) if members else "–"
        # "at least": a group in which everyone answered left one answer out (P6).
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
) -> tuple[list[Schedule], list[tuple[datetime, dict[str, Any], int]]]:
    """Schedules of units in scope; per closed round the organisation-level published counts."""
    with db.session() as session:
        schedules = [s for s in session.exec(select(Schedule)).all() if s.unit_id in scope]
        closed: list[tuple[datetime, dict[str, Any], int]] = []
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
                        dict(top.figures),
                        survey_round.min_group_size,
                    )
                )
    return schedules, closed
