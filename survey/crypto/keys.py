"""Key files: generation at ``pulse init``, loading, and report-key rotation.

Layout of the keys directory (every file 0600, the directory 0700)::

    pseudonym.key              32 random bytes, base64 (HMAC key for Telegram user ids)
    chat-id.key                32 random bytes, base64 (AES-256-GCM key for chat ids)
    report-<kid>.pub           X25519 public key, PEM (what the bot seals answers to)
    report-active              the key id that new rounds seal to
    report-<kid>.key           X25519 private key, PEM, in the report private keys directory

The private report keys may live in a different directory or on another machine (P3): the bot
needs only the public half, and only closing a round needs the private one.
"""

from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from survey.crypto.buttons import ButtonSigner
from survey.crypto.identity import ChatIdCipher, Pseudonymizer
from survey.crypto.sealing import key_id_of

PSEUDONYM_KEY_FILE = "pseudonym.key"
CHAT_ID_KEY_FILE = "chat-id.key"
ACTIVE_REPORT_KEY_FILE = "report-active"


class KeyFileError(RuntimeError):
    """A key is missing, unreadable, or would be overwritten."""


class KeysMissingError(KeyFileError):
    pass


class KeysExistError(KeyFileError):
    pass


@dataclass(frozen=True)
class ReportPublicKey:
    key_id: str
    public_key: X25519PublicKey


@dataclass(frozen=True)
class KeyPaths:
    keys_dir: Path
    private_dir: Path

    @property
    def pseudonym(self) -> Path:
        return self.keys_dir / PSEUDONYM_KEY_FILE

    @property
    def chat_id(self) -> Path:
        return self.keys_dir / CHAT_ID_KEY_FILE

    @property
    def active(self) -> Path:
        return self.keys_dir / ACTIVE_REPORT_KEY_FILE

    def report_public(self, key_id: str) -> Path:
        return self.keys_dir / f"report-{key_id}.pub"

    def report_private(self, key_id: str) -> Path:
        return self.private_dir / f"report-{key_id}.key"


def generate_keys(paths: KeyPaths) -> str:
    """Create every key for a new installation; refuses if any key file already exists."""
    existing = [p for p in (paths.pseudonym, paths.chat_id, paths.active) if p.exists()]
    if existing:
        names = ", ".join(str(p) for p in existing)
        raise KeysExistError(f"keys already exist ({names}); refusing to overwrite them")
    _ensure_private_dir(paths.keys_dir)
    _ensure_private_dir(paths.private_dir)
    _write_secret(paths.pseudonym, base64.b64encode(os.urandom(32)) + b"\n")
    _write_secret(paths.chat_id, base64.b64encode(os.urandom(32)) + b"\n")
    return rotate_report_key(paths)


def rotate_report_key(paths: KeyPaths) -> str:
    """Make a new report key pair active for rounds opened from now on; old keys stay."""
    _ensure_private_dir(paths.keys_dir)
    _ensure_private_dir(paths.private_dir)
    private = X25519PrivateKey.generate()
    key_id = key_id_of(private.public_key()).hex()
    _write_secret(
        paths.report_private(key_id),
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_secret(
        paths.report_public(key_id),
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    tmp = paths.active.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    _write_secret(tmp, key_id.encode() + b"\n")
    tmp.replace(paths.active)
    return key_id


class KeyRing:
    """Loads keys lazily and once, so a process that never closes rounds never needs a private key
    and the submit path does no file I/O after the first answer."""

    def __init__(self, paths: KeyPaths) -> None:
        self.paths = paths
        self._public: dict[str, X25519PublicKey] = {}

    @classmethod
    def from_dirs(cls, keys_dir: Path, private_dir: Path | None = None) -> KeyRing:
        return cls(KeyPaths(keys_dir, private_dir or keys_dir))

    @functools.cache  # noqa: B019  (one KeyRing per process; the cache lives as long as it)
    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer(_read_b64(self.paths.pseudonym))

    @functools.cache  # noqa: B019
    def button_signer(self) -> ButtonSigner:
        return ButtonSigner(_read_b64(self.paths.pseudonym))

    @functools.cache  # noqa: B019
    def chat_id_cipher(self) -> ChatIdCipher:
        return ChatIdCipher(_read_b64(self.paths.chat_id))

    def active_report_key(self) -> ReportPublicKey:
        path = self.paths.active
        if not path.exists():
            raise KeysMissingError(f"no active report key ({path}); run `pulse init`")
        key_id = path.read_text().strip()
        return ReportPublicKey(key_id, self.report_public_key(key_id))

    def report_public_key(self, key_id: str) -> X25519PublicKey:
        if key_id not in self._public:
            data = _read(self.paths.report_public(key_id))
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, X25519PublicKey):
                raise KeyFileError(f"report-{key_id}.pub is not an X25519 public key")
            self._public[key_id] = key
        return self._public[key_id]

    def report_private_key(self, key_id: str) -> X25519PrivateKey:
        path = self.paths.report_private(key_id)
        if not path.exists():
            raise KeysMissingError(
                f"report private key {key_id} is not available here ({path}); closing a round "
                "needs it: run this on the machine that holds it or set "
                "PULSE_REPORT_PRIVATE_KEYS_DIR"
            )
        key = serialization.load_pem_private_key(_read(path), password=None)
        if not isinstance(key, X25519PrivateKey):
            raise KeyFileError(f"{path.name} is not an X25519 private key")
        if key_id_of(key.public_key()).hex() != key_id:
            raise KeyFileError(f"{path.name} does not hold the key its name says")
        return key

    def report_key_ids(self) -> list[str]:
        return sorted(
            p.name.removeprefix("report-").removesuffix(".pub")
            for p in self.paths.keys_dir.glob("report-*.pub")
        )


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _read(path: Path) -> bytes:
    if not path.exists():
        raise KeysMissingError(f"key file {path} is missing; run `pulse init`")
    return path.read_bytes()


def _read_b64(path: Path) -> bytes:
    try:
        return base64.b64decode(_read(path).strip(), validate=True)
    except ValueError as exc:
        raise KeyFileError(f"key file {path} is damaged (not base64)") from exc
