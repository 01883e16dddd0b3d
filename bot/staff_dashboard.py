"""/dashboard: staff open the dashboard from the chat, as a Mini App, or get a one-time link to
log in with in an ordinary browser (single use, minutes, sent without a link preview)."""

from __future__ import annotations

import asyncio
import html

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, filters

from bot.access import staff_member
from bot.context import chat_of, services_of, user_of
from bot.shared import App, Context
from survey.staff_access import issue_login_link


def add_dashboard_handlers(application: App) -> None:
    application.add_handler(
        CommandHandler("dashboard", dashboard, filters=filters.ChatType.PRIVATE)
    )


async def dashboard(update: Update, context: Context) -> None:
    staff = await staff_member(update, context)
    if staff is None:
        return
    services, t, chat = services_of(context), staff.t, chat_of(update)
    if services.public_url is None:
        await chat.send_message(
            t._(
                "The dashboard needs the server's public address (PULSE_PUBLIC_URL); ask your "
                "admin. Until then: /report, /trend and /actions."
            )
        )
        return
    user = user_of(update)
    token = await asyncio.to_thread(
        issue_login_link,
        services.db,
        services.keys,
        staff.member.id,
        user.full_name,
        services.clock(),
        services.login_link_minutes,
    )
    link = f"{services.public_url}/login/{token}"
    text = (
        html.escape(t._("Open the dashboard here in Telegram with the button."))
        + "\n\n"
        + html.escape(
            t._(
                "In a browser on your computer: this link logs you in once, within {minutes} "
                "minutes. Do not pass it on."
            ).format(minutes=services.login_link_minutes)
        )
        + f"\n{html.escape(link)}"
    )
    button = InlineKeyboardButton(
        t._("Open the dashboard"), web_app=WebAppInfo(f"{services.public_url}/dashboard")
    )
    await chat.send_message(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup([[button]]),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
