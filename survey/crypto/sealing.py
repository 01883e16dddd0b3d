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


def seal(public_key: X25519PublicKey, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt ``plaintext`` to ``public_key``; needs no secret, so the bot can do it (P3)."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise SealingError(
            f"answer payload is {len(plaintext)} bytes; at most {MAX_PLAINTEXT_BYTES} fit"
        )
    padded = _pad(plaintext)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    recipient_public = _raw_public(public_key)
    key = _derive_key(ephemeral.exchange(public_key), ephemeral_public, recipient_public)
    nonce = os.urandom(_NONCE_BYTES)
    key_id = key_id_of(public_key)
    header = bytes([FORMAT_VERSION]) + key_id + ephemeral_public + nonce
    ciphertext = AESGCM(key).encrypt(nonce, padded, header + context)
    return header + ciphertext


def sealed_key_id(sealed: bytes) -> bytes:
    """Which report key a payload was sealed to (without opening it)."""
    _check_shape(sealed)
    return sealed[1 : 1 + KEY_ID_BYTES]


def unseal(private_key: X25519PrivateKey, sealed: bytes, context: bytes) -> bytes:
    """Open a payload; fails for tampering, a wrong key, or a payload moved to another context."""
    _check_shape(sealed)
    header, ciphertext = sealed[:_HEADER_BYTES], sealed[_HEADER_BYTES:]
    key_id = header[1 : 1 + KEY_ID_BYTES]
    if key_id != key_id_of(private_key.public_key()):
        raise SealingError("payload was sealed to another report key")
    ephemeral_public = header[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + _PUBLIC_BYTES]
    nonce = header[-_NONCE_BYTES:]
    try:
        peer = X25519PublicKey.from_public_bytes(ephemeral_public)
        shared = private_key.exchange(peer)
    except ValueError as exc:
        raise SealingError("payload header is damaged") from exc
    key = _derive_key(shared, ephemeral_public, _raw_public(private_key.public_key()))
    try:
        padded = AESGCM(key).decrypt(nonce, ciphertext, header + context)
    except InvalidTag as exc:
        raise SealingError(
            "payload does not open: tampered, or not sealed for this round and unit"
        ) from exc
    return _unpad(padded)


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
