"""Telegram adapter (python-telegram-bot v22): translates between Telegram and survey/ and
aggregation/ calls; no business rule lives here. Built by the bot issue."""
