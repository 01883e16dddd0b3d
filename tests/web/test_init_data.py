"""Telegram's initData: accepted only as Telegram signs it, for its user, within its age; every
forgery, alteration, replay of an old one and malformed body refused with a reason."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.web.signing import NOW, TOKEN, fields_for, signed
from web.init_data import InitDataError, validate_init_data

HOUR = timedelta(hours=1)


def test_initdata_signed_for_this_bot_names_its_user() -> None:
    data = validate_init_data(signed(fields_for()), TOKEN, max_age=HOUR, now=NOW)
    assert data.user.id == 7_100_000_001
    assert data.user.language_code == "sv"
    assert data.auth_date == NOW
    # Fields Telegram adds later (signature, chat_type...) are part of what it signed.
    later = signed(fields_for(signature="abc", chat_type="sender"))
    assert validate_init_data(later, TOKEN, max_age=HOUR, now=NOW).user.id == 7_100_000_001


def test_another_bots_initdata_is_forged_here() -> None:
    other = signed(fields_for(), token="999:" + "B" * 35)
    with pytest.raises(InitDataError) as refused:
        validate_init_data(other, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "forged"


@pytest.mark.parametrize("field", ["user", "auth_date", "query_id"])
def test_any_altered_field_is_forged(field: str) -> None:
    """A colleague who captured someone's initData and puts their own id in it, or moves its
    date forward to replay it later, gets nothing."""
    raw = signed(fields_for())
    pairs = dict(pair.split("=", 1) for pair in raw.split("&"))  # as sent: URL-encoded
    other = fields_for(
        user_id=7_100_000_002,
        at=NOW + timedelta(minutes=1),
        query_id="AAHdF6IQAAAAAN0XohDhrOrd",
    )
    pairs[field] = urlencode({field: other[field]}).split("=", 1)[1]
    tampered = "&".join(f"{key}={value}" for key, value in pairs.items())
    with pytest.raises(InitDataError) as refused:
        validate_init_data(tampered, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "forged"
    # What a refusal says can go to a log: never who, never what was sent (P4).
    said = str(refused.value)
    assert "7100000001" not in said
    assert "Anna" not in said
    assert "AAHdF6" not in said


def test_old_initdata_is_expired_and_future_initdata_malformed() -> None:
    old = signed(fields_for(at=NOW - HOUR - timedelta(seconds=1)))
    with pytest.raises(InitDataError) as refused:
        validate_init_data(old, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "expired"
    ahead = signed(fields_for(at=NOW + timedelta(minutes=10)))
    with pytest.raises(InitDataError) as refused:
        validate_init_data(ahead, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "malformed"
    # A client clock a minute ahead is fine.
    near = signed(fields_for(at=NOW + timedelta(minutes=1)))
    assert validate_init_data(near, TOKEN, max_age=HOUR, now=NOW).user.id == 7_100_000_001


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "x" * 5000,
        "user=1&user=2&auth_date=1&hash=" + "0" * 64,  # a field twice
        "auth_date=1&hash=" + "0" * 64 + "&&",  # an empty pair
        "auth_date=1&hash=nothex",
        "auth_date=1",  # no hash
    ],
)
def test_malformed_initdata_is_refused_before_any_trust(raw: str) -> None:
    with pytest.raises(InitDataError) as refused:
        validate_init_data(raw, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize(
    "user",
    [
        '"just text"',
        "{}",
        '{"id": "7"}',
        '{"id": true}',
        '{"id": -5}',
        '{"id": 5, "language_code": 3}',
        "{not json",
    ],
)
def test_a_signed_but_nonsensical_user_is_refused(user: str) -> None:
    """Even correctly signed data (for instance from a test environment's token) must name a
    real user: a user that is not an object with a positive integer id means nothing."""
    raw = signed({"user": user, "auth_date": str(int(NOW.timestamp()))})
    with pytest.raises(InitDataError) as refused:
        validate_init_data(raw, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason == "malformed"


@given(st.text(max_size=300))
def test_any_text_is_refused_with_a_reason_never_an_exception(raw: str) -> None:
    with pytest.raises(InitDataError) as refused:
        validate_init_data(raw, TOKEN, max_age=HOUR, now=NOW)
    assert refused.value.reason in ("malformed", "forged", "expired")


@given(
    st.integers(min_value=1, max_value=2**52),
    st.text(min_size=0, max_size=40),
    st.integers(min_value=0, max_value=3599),
)
def test_every_properly_signed_initdata_within_its_age_is_accepted(
    user_id: int, name: str, age: int
) -> None:
    user = json.dumps({"id": user_id, "first_name": name})
    raw = signed({"user": user, "auth_date": str(int(NOW.timestamp()) - age)})
    assert validate_init_data(raw, TOKEN, max_age=HOUR, now=NOW).user.id == user_id
