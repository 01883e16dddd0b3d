"""The local Bot API server speaks well enough for the real python-telegram-bot library."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from local_bot_api import LocalBotApi


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    assert update.message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="pressed")]])
    await update.effective_chat.send_message(f"echo: {update.message.text}", reply_markup=keyboard)


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("thanks")
    await query.edit_message_text(f"you pressed {query.data}")


async def test_real_ptb_polls_sends_edits_and_answers() -> None:
    async with LocalBotApi() as api:
        app = (
            Application.builder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        app.add_handler(MessageHandler(filters.TEXT, _echo))
        app.add_handler(CallbackQueryHandler(_pressed))
        assert app.updater is not None
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            api.send_text(42, "hej")
            await api.wait_for(lambda: api.messages[42])
            message = api.last(42)
            assert message.text == "echo: hej"
            assert message.buttons() == [("ok", "pressed")]
            callback_id = api.press(42, message, "pressed")
            await api.wait_for(lambda: callback_id in api.answered_callbacks)
            await api.wait_for(lambda: api.last(42).text == "you pressed pressed")
            await app.updater.stop()
            await app.stop()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_failures_on_demand_reach_the_library_as_telegram_errors() -> None:
    async with LocalBotApi() as api:
        app = Application.builder().token(api.token).base_url(api.base_url).build()
        async with app:
            api.fail("sendMessage", 429, retry_after=3)
            with pytest.raises(RetryAfter) as caught:
                await app.bot.send_message(7, "x")
            retry = caught.value.retry_after
            assert getattr(retry, "total_seconds", lambda: retry)() == 3
            api.block(7)
            with pytest.raises(Forbidden, match="blocked"):
                await app.bot.send_message(7, "x")
            assert await app.bot.send_message(8, "fine")


@pytest.mark.parametrize(
    ("chat_id", "url", "refusal"),
    [
        (9_100_000_001, "http://pulse.example.se/checkin", "Only HTTPS links are allowed"),
        (9_100_000_001, "pulse.example.se/checkin", "Only HTTPS links are allowed"),
        (-1_001_234_567, "https://pulse.example.se/checkin", "BUTTON_TYPE_INVALID"),
    ],
)
async def test_web_app_buttons_are_checked_as_telegram_checks_them(
    chat_id: int, url: str, refusal: str
) -> None:
    """Telegram opens Mini Apps from private chats only, and only over HTTPS."""
    from telegram import WebAppInfo
    from telegram.error import BadRequest

    async with LocalBotApi() as api:
        app = Application.builder().token(api.token).base_url(api.base_url).build()
        async with app:
            keyboard = InlineKeyboardMarkup(
                [[InlineKeyboardButton("Svara", web_app=WebAppInfo(url))]]
            )
            with pytest.raises(BadRequest, match="(?i)" + refusal):  # PTB capitalizes
                await app.bot.send_message(chat_id, "Veckans frågor", reply_markup=keyboard)
            ok = InlineKeyboardMarkup(
                [[InlineKeyboardButton("Svara", web_app=WebAppInfo("https://pulse.example.se/c"))]]
            )
            await app.bot.send_message(9_100_000_001, "Veckans frågor", reply_markup=ok)
            assert api.messages[9_100_000_001][-1].web_apps() == [
                ("Svara", "https://pulse.example.se/c")
            ]
