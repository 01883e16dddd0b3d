"""Settings of the Telegram side (``PULSE_*``), beside the survey settings."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILES = "https://api.telegram.org/file/bot"
#: What BotFather hands out: the bot's numeric id, a colon, and 35 or so URL-safe characters.
TOKEN_FORM = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PULSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = Field(
        default=None, description="The token BotFather gave you. Never commit it."
    )
    bot_api_url: str = Field(
        default=TELEGRAM_API,
        description="Bot API base URL (a local Bot API server or a compatible one).",
    )
    bot_file_url: str = Field(default=TELEGRAM_FILES, description="Bot API file base URL.")
    tick_seconds: float = Field(
        default=60, gt=0, description="How often the bot asks what is due (open/remind/close)."
    )
    webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to (webhook mode).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; requests without "
        "it get 403 (webhook mode; 1-256 characters A-Z a-z 0-9 _ -).",
    )
    webhook_listen: str = Field(default="127.0.0.1", description="Address the webhook binds.")

    @field_validator("bot_token")
    @classmethod
    def _looks_like_a_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked before anything starts: a mistyped token would otherwise be sent to Telegram
        # again and again. The message never repeats the value.
        if value is not None and not TOKEN_FORM.fullmatch(value.get_secret_value().strip()):
            raise ValueError(
                "does not look like a bot token (digits, a colon and about 35 letters, as "
                "@BotFather gives it)"
            )
        return value
    webhook_port: int = Field(default=8443, description="Port the webhook listens on.")
