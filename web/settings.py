"""Settings of the HTTP surfaces (``PULSE_*``), beside the survey and bot settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from survey.storage.models import CheckinChannel


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PULSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    public_url: str | None = Field(
        default=None,
        description="The HTTPS address at which a reverse proxy serves this server's pages "
        "(e.g. https://pulse.example.se). Without it, workers answer with the chat's buttons.",
    )
    web_listen: str = Field(
        default="127.0.0.1:8080",
        description="host:port the web server binds (the reverse proxy forwards to it).",
    )
    checkin_channel: CheckinChannel = Field(
        default=CheckinChannel.WEBAPP,
        description="Where workers answer unless they chose in /settings: webapp (the page, "
        "Telegram never carries an answer) or chat (buttons).",
    )
    init_data_max_age_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="How long after Telegram signed a page's opening its answers are accepted.",
    )
    web_member_requests_per_minute: int = Field(
        default=30, ge=1, description="Requests one member may make to the pages per minute."
    )
    web_address_requests_per_minute: int = Field(
        default=600,
        ge=1,
        description="Requests one network address may make per minute (a municipality's whole "
        "staff may come from one address).",
    )
    web_trusted_proxies: list[str] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses of reverse proxies whose X-Forwarded-For is believed.",
    )

    dashboard_idle_minutes: int = Field(
        default=30, ge=5, le=720, description="A dashboard session ends after this long unused."
    )
    login_link_minutes: int = Field(
        default=10, ge=1, le=60, description="How long a one-time dashboard login link works."
    )
    login_attempts_per_minute: int = Field(
        default=10,
        ge=1,
        description="Dashboard logins (links and Mini App) one network address may try per minute.",
    )

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname:
            # Telegram opens Mini Apps from HTTPS addresses only.
            raise ValueError("must be an https:// address (Telegram opens pages only over HTTPS)")
        if parts.query or parts.fragment:
            raise ValueError("must be a plain address without ? or #")
        return value.strip().rstrip("/")

    @field_validator("web_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value

    @property
    def listen_host(self) -> str:
        return self.web_listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.web_listen.rpartition(":")[2])
