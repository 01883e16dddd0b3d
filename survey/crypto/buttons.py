"""Signed button data: an unfinished check-in lives in the chat's own buttons (P5), not in the
database, so the buttons must not be forgeable. Each callback payload carries a short HMAC over
the payload and the Telegram user it was made for; a forged, altered or borrowed button fails.
"""

from __future__ import annotations

import base64
import hmac
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_TAG_BYTES = 6  # 48 bits: forging needs ~2^47 tries, each one a button press against the bot
_INFO = b"staff-pulse/button-signing/v1"


class ButtonSigner:
    def __init__(self, root_key: bytes) -> None:
        # A key of its own, derived from the pseudonym key, so no extra key file is needed and
        # a leaked button key would not reveal pseudonyms.
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            root_key
        )

    def sign(self, payload: str, user_id: int) -> str:
        return f"{payload}|{self._tag(payload, user_id)}"

    def verify(self, data: str, user_id: int) -> str | None:
        """The payload if ``data`` was signed for ``user_id`` by this bot, else None."""
        payload, _, tag = data.rpartition("|")
        if not payload or not hmac.compare_digest(tag, self._tag(payload, user_id)):
            return None
        return payload

    def _tag(self, payload: str, user_id: int) -> str:
        digest = hmac.new(self._key, f"{user_id}|{payload}".encode(), sha256).digest()
        return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).decode()
