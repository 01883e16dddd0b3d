"""Pseudonyms and encrypted chat ids: how we find and reach a member without storing who they are.

A Telegram user id is a small number space, so a plain hash of it is reversible by enumeration;
a keyed HMAC is not, as long as the pseudonym key stays out of the database (P4).
"""

from __future__ import annotations

import hmac
import os
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PSEUDONYM_DOMAIN = b"staff-pulse/telegram-user/v1:"
_CHAT_DOMAIN = b"staff-pulse/chat-id/v1:"
_NAME_DOMAIN = b"staff-pulse/display-name/v1:"
_NONCE_BYTES = 12


class IdentityKeyError(ValueError):
    """A chat id did not decrypt: wrong key, or the stored value was altered or moved."""


class Pseudonymizer:
    """Maps a Telegram user id to a stable, keyed pseudonym used as the member's lookup key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        self._key = key

    def pseudonym(self, telegram_user_id: int) -> str:
        message = _PSEUDONYM_DOMAIN + str(int(telegram_user_id)).encode()
        return hmac.new(self._key, message, sha256).hexdigest()


class ChatIdCipher:
    """Encrypts the chat id the bot needs for sending, bound to the member's pseudonym."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("chat-id key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def encrypt(self, chat_id: int, pseudonym: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = str(int(chat_id)).encode()
        return nonce + self._aead.encrypt(nonce, plaintext, _CHAT_DOMAIN + pseudonym.encode())

    def decrypt(self, sealed: bytes, pseudonym: str) -> int:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, _CHAT_DOMAIN + pseudonym.encode())
        except InvalidTag as exc:
            raise IdentityKeyError("stored chat id does not decrypt for this member") from exc
        return int(plaintext)

    def encrypt_name(self, name: str, pseudonym: str) -> bytes:
        """A Telegram display name a worker chose to give (a /talk request), bound to them."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, name.encode(), _NAME_DOMAIN + pseudonym.encode())

    def decrypt_name(self, sealed: bytes, pseudonym: str) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, _NAME_DOMAIN + pseudonym.encode())
        except InvalidTag as exc:
            raise IdentityKeyError("stored name does not decrypt for this member") from exc
        return plaintext.decode()
