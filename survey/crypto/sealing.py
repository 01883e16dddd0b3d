"""Sealed answers: hybrid public-key encryption that only the report key holder can open (P3).

Format (version 1), all fields fixed-size so every sealed payload has the same length (P1)::

    version(1) | key_id(8) | ephemeral_public(32) | nonce(12)
    | AES-256-GCM(padded plaintext) | tag(16)

The AES key is HKDF-SHA256 over the X25519 shared secret, salted with both public keys. The round
and unit are bound as associated data, so a payload copied to another round or unit fails to open.
Fernet is deliberately not used: its tokens carry a clear creation timestamp (P2).
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
KEY_ID_BYTES = 8
_PUBLIC_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_LENGTH_PREFIX = struct.Struct(">I")
#: Every plaintext is padded to this many bytes before encryption, so a payload's size says nothing
#: about how many items were answered or how long a comment was. Part of the format: changing it
#: needs a new FORMAT_VERSION.
PADDED_PLAINTEXT_BYTES = 2048
MAX_PLAINTEXT_BYTES = PADDED_PLAINTEXT_BYTES - _LENGTH_PREFIX.size
_HEADER_BYTES = 1 + KEY_ID_BYTES + _PUBLIC_BYTES + _NONCE_BYTES
SEALED_BYTES = _HEADER_BYTES + PADDED_PLAINTEXT_BYTES + _TAG_BYTES
_HKDF_INFO = b"staff-pulse/sealed-answer/v1"
#: Pool payloads each carry their own ephemeral key; don't let a huge round grow the cache.
_MAX_CACHED_KEYS = 1024


class SealingError(ValueError):
    """A payload could not be sealed or opened (too large, tampered, wrong key, wrong context)."""


def key_id_of(public_key: X25519PublicKey) -> bytes:
    """A short, stable name for a report key, stored beside each round so old rounds still open."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(_raw_public(public_key))
    return digest.finalize()[:KEY_ID_BYTES]


def seal_context(round_id: int, unit_id: int) -> bytes:
    """Associated data that pins a payload to one round and one unit."""
    return f"staff-pulse/v{FORMAT_VERSION}/round={round_id}/unit={unit_id}".encode()


class Sealer:
    """Seals many payloads to one report key with one ephemeral key pair.

    Releasing a round re-seals thousands of answers; one X25519 exchange for the whole batch
    instead of one per answer makes that about ten times cheaper. Each payload still gets its own
    random 96-bit nonce, so the AES-GCM key is used well within its safe number of messages, and
    no output matches any earlier ciphertext of the same answer. The wire format is unchanged.
    """

    def __init__(self, public_key: X25519PublicKey) -> None:
        ephemeral = X25519PrivateKey.generate()
        self._ephemeral_public = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(public_key)
        self._aead = AESGCM(_derive_key(shared, self._ephemeral_public, _raw_public(public_key)))
        self._prefix = bytes([FORMAT_VERSION]) + key_id_of(public_key) + self._ephemeral_public

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise SealingError(
                f"answer payload is {len(plaintext)} bytes; at most {MAX_PLAINTEXT_BYTES} fit"
            )
        nonce = os.urandom(_NONCE_BYTES)
        header = self._prefix + nonce
        return header + self._aead.encrypt(nonce, _pad(plaintext), header + context)


def seal(public_key: X25519PublicKey, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt one payload to ``public_key`` with a fresh ephemeral key; needs no secret, so the
    bot can do it (P3)."""
    return Sealer(public_key).seal(plaintext, context)


def sealed_key_id(sealed: bytes) -> bytes:
    """Which report key a payload was sealed to (without opening it)."""
    _check_shape(sealed)
    return sealed[1 : 1 + KEY_ID_BYTES]


class Unsealer:
    """Opens payloads with one report private key, remembering the key derived for each
    ephemeral public key, so a batch sealed by one ``Sealer`` costs one exchange to open."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private_key = private_key
        self._public = _raw_public(private_key.public_key())
        self._key_id = key_id_of(private_key.public_key())
        self._aeads: dict[bytes, AESGCM] = {}

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        """Open a payload; fails for tampering, a wrong key, or a payload moved to another
        round or unit."""
        _check_shape(sealed)
        header, ciphertext = sealed[:_HEADER_BYTES], sealed[_HEADER_BYTES:]
        if header[1 : 1 + KEY_ID_BYTES] != self._key_id:
            raise SealingError("payload was sealed to another report key")
        ephemeral_public = header[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + _PUBLIC_BYTES]
        nonce = header[-_NONCE_BYTES:]
        try:
            padded = self._aead_for(ephemeral_public).decrypt(nonce, ciphertext, header + context)
        except InvalidTag as exc:
            raise SealingError(
                "payload does not open: tampered, or not sealed for this round and unit"
            ) from exc
        return _unpad(padded)

    def _aead_for(self, ephemeral_public: bytes) -> AESGCM:
        aead = self._aeads.get(ephemeral_public)
        if aead is None:
            try:
                peer = X25519PublicKey.from_public_bytes(ephemeral_public)
                shared = self._private_key.exchange(peer)
            except ValueError as exc:
                raise SealingError("payload header is damaged") from exc
            aead = AESGCM(_derive_key(shared, ephemeral_public, self._public))
            if len(self._aeads) < _MAX_CACHED_KEYS:
                self._aeads[ephemeral_public] = aead
        return aead


def unseal(private_key: X25519PrivateKey, sealed: bytes, context: bytes) -> bytes:
    """Open one payload (see ``Unsealer`` for many)."""
    return Unsealer(private_key).unseal(sealed, context)


def _check_shape(sealed: bytes) -> None:
    if len(sealed) != SEALED_BYTES:
        raise SealingError(f"sealed payload must be {SEALED_BYTES} bytes, got {len(sealed)}")
    if sealed[0] != FORMAT_VERSION:
        raise SealingError(f"unknown sealed payload version {sealed[0]}")


def _derive_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_HKDF_INFO,
    ).derive(shared)


def _raw_public(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _pad(plaintext: bytes) -> bytes:
    body = _LENGTH_PREFIX.pack(len(plaintext)) + plaintext
    return body + bytes(PADDED_PLAINTEXT_BYTES - len(body))


def _unpad(padded: bytes) -> bytes:
    (length,) = _LENGTH_PREFIX.unpack_from(padded)
    if length > MAX_PLAINTEXT_BYTES:
        raise SealingError("payload padding is damaged")
    return padded[_LENGTH_PREFIX.size : _LENGTH_PREFIX.size + length]
