"""All cryptography of Staff Pulse, built only on the ``cryptography`` package."""

from survey.crypto.identity import ChatIdCipher, IdentityKeyError, Pseudonymizer
from survey.crypto.keys import (
    KeyFileError,
    KeyPaths,
    KeyRing,
    KeysExistError,
    KeysMissingError,
    ReportPublicKey,
    generate_keys,
    rotate_report_key,
)
from survey.crypto.sealing import (
    SEALED_BYTES,
    Sealer,
    SealingError,
    Unsealer,
    seal,
    seal_context,
    sealed_key_id,
    unseal,
)

__all__ = [
    "SEALED_BYTES",
    "ChatIdCipher",
    "IdentityKeyError",
    "KeyFileError",
    "KeyPaths",
    "KeyRing",
    "KeysExistError",
    "KeysMissingError",
    "Pseudonymizer",
    "ReportPublicKey",
    "Sealer",
    "SealingError",
    "Unsealer",
    "generate_keys",
    "rotate_report_key",
    "seal",
    "seal_context",
    "sealed_key_id",
    "unseal",
]
