"""Settings: PULSE_* variables, their checks, and the documented example staying complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import BotSettings
from survey.settings import SurveySettings
from web.settings import WebSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "pulse.env.example"


def _settings(**values: Any) -> SurveySettings:
    return SurveySettings(_env_file=None, **values)


def test_defaults_are_embedded_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PULSE_DATA_DIR", "PULSE_DATABASE_URL", "PULSE_KEYS_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = _settings()
    assert settings.resolved_database_url == "sqlite:///pulse-data/pulse.sqlite3"
    assert settings.resolved_keys_dir == Path("pulse-data/keys")
    assert settings.resolved_report_private_keys_dir == Path("pulse-data/keys")
    assert (settings.min_group_size, settings.spread_min_group_size) == (5, 10)
    assert (settings.timezone, settings.language) == ("Europe/Stockholm", "sv")


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_MIN_GROUP_SIZE", "6")
    monkeypatch.setenv("PULSE_DATABASE_URL", "postgresql+psycopg://pulse@db/pulse")
    monkeypatch.setenv("PULSE_REPORT_PRIVATE_KEYS_DIR", "/mnt/vault")
    settings = _settings()
    assert settings.min_group_size == 6
    assert settings.resolved_database_url == "postgresql+psycopg://pulse@db/pulse"
    assert settings.resolved_report_private_keys_dir == Path("/mnt/vault")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_group_size": 2}, "at least 3"),
        ({"min_group_size": 8, "spread_min_group_size": 5}, "must not be below"),
        ({"timezone": "Europe/Stockholmm"}, "unknown timezone"),
        ({"language": "fi"}, "language must be one of sv, en"),
        ({"sqlite_synchronous": "OFF"}, "NORMAL, FULL or EXTRA"),
        ({"known_others": 0}, "greater than or equal to 1"),
        ({"known_others": 3}, "PULSE_KNOWN_OTHERS must be at most PULSE_MIN_GROUP_SIZE - 3"),
        ({"min_group_size": 3}, "PULSE_KNOWN_OTHERS must be at most"),
    ],
)
def test_bad_values_are_refused_with_a_reason(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**values)


def test_the_example_file_documents_every_setting() -> None:
    documented = set(re.findall(r"^(PULSE_[A-Z_]+)=", EXAMPLE.read_text(), flags=re.MULTILINE))
    fields = [*SurveySettings.model_fields, *BotSettings.model_fields, *WebSettings.model_fields]
    expected = {f"PULSE_{name.upper()}" for name in fields}
    assert documented == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"public_url": "http://pulse.example.se"}, "must be an https:// address"),
        ({"public_url": "pulse.example.se"}, "must be an https:// address"),
        ({"public_url": "https://pulse.example.se/?x=1"}, "without \\? or #"),
        ({"web_listen": "8080"}, "must be host:port"),
        ({"web_listen": "127.0.0.1:99999"}, "must be host:port"),
        ({"checkin_channel": "sms"}, "'webapp' or 'chat'"),
        ({"init_data_max_age_seconds": 10}, "greater than or equal to 60"),
    ],
)
def test_bad_web_values_are_refused_with_a_reason(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WebSettings(_env_file=None, **values)


def test_a_public_url_is_kept_without_its_trailing_slash_and_empty_means_none() -> None:
    assert WebSettings(_env_file=None, public_url="https://pulse.example.se/").public_url == (
        "https://pulse.example.se"
    )
    assert WebSettings(_env_file=None, public_url="").public_url is None
    listen = WebSettings(_env_file=None, web_listen="[::1]:8080")
    assert (listen.listen_host, listen.listen_port) == ("::1", 8080)
