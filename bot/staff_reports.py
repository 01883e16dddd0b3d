"""Managers and safety representatives in chat: reports, trends and units within their grant.

Disclosure control and the audits are aggregation/'s; nothing here can show an open round:
reports read only the published statistics of closed rounds.
"""

from __future__ import annotations

import asyncio
import functools
import html
import io
import logging

from telegram import Chat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from aggregation.charts import area_chart, units_heatmap
from aggregation.findings import ranked_findings
from aggregation.report import ReportError, UnitReport, build_report
from bot.access import (
    record_keyboard,
    staff_member,
    unit_argument,
)
from bot.context import chat_of, services_of, signed, user_of
from bot.messages import report_text, split_messages
from bot.shared import App, Context
from survey.enrolment import unit_tree, units_named
from survey.i18n import Texts
from survey.roles import ACTORS
from survey.storage.models import Member

log = logging.getLogger(__name__)


def add_report_handlers(application: App) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("report", report, filters=private))
    application.add_handler(CommandHandler("trend", trend, filters=private))
    application.add_handler(CommandHandler("units", units, filters=private))


def member_user(update: Update) -> int:
    return user_of(update).id


async def _granted_report(
    update: Update, context: Context
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


async def report(update: Update, context: Context) -> None:
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


async def trend(update: Update, context: Context) -> None:
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
    context: Context, unit_id: int, t: Texts, chat: Chat
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


async def units(update: Update, context: Context) -> None:
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
