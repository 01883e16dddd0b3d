"""Sealing (P3), pseudonyms and chat ids (P4), and the key files."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from survey.crypto import (
    SEALED_BYTES,
    ChatIdCipher,
    IdentityKeyError,
    KeyPaths,
    KeyRing,
    KeysExistError,
    KeysMissingError,
    Pseudonymizer,
    Sealer,
    SealingError,
    Unsealer,
    generate_keys,
    rotate_report_key,
    seal,
    seal_context,
    unseal,
)
from survey.crypto.sealing import MAX_PLAINTEXT_BYTES

PRIVATE = X25519PrivateKey.generate()
PUBLIC = PRIVATE.public_key()


@given(
    plaintext=st.binary(max_size=MAX_PLAINTEXT_BYTES),
    round_id=st.integers(1, 10**6),
    unit_id=st.integers(1, 10**6),
)
def test_seal_round_trip_and_fixed_length(plaintext: bytes, round_id: int, unit_id: int) -> None:
    context = seal_context(round_id, unit_id)
    sealed = seal(PUBLIC, plaintext, context)
    assert len(sealed) == SEALED_BYTES
    assert unseal(PRIVATE, sealed, context) == plaintext


def test_sealing_same_answer_twice_gives_different_ciphertexts() -> None:
    context = seal_context(1, 1)
    assert seal(PUBLIC, b'{"a":1}', context) != seal(PUBLIC, b'{"a":1}', context)


@given(position=st.integers(0, SEALED_BYTES - 1), flip=st.integers(1, 255))
def test_any_tampered_byte_fails_to_open(position: int, flip: int) -> None:
    context = seal_context(7, 3)
    sealed = bytearray(seal(PUBLIC, b"answers", context))
    sealed[position] ^= flip
    with pytest.raises(SealingError):
        unseal(PRIVATE, bytes(sealed), context)


def test_payload_moved_to_another_round_or_unit_fails() -> None:
    sealed = seal(PUBLIC, b"answers", seal_context(7, 3))
    with pytest.raises(SealingError, match="not sealed for this round and unit"):
        unseal(PRIVATE, sealed, seal_context(8, 3))
    with pytest.raises(SealingError, match="not sealed for this round and unit"):
        unseal(PRIVATE, sealed, seal_context(7, 4))


def test_wrong_private_key_and_wrong_length_are_refused() -> None:
    sealed = seal(PUBLIC, b"answers", seal_context(1, 1))
    with pytest.raises(SealingError, match="another report key"):
        unseal(X25519PrivateKey.generate(), sealed, seal_context(1, 1))
    with pytest.raises(SealingError, match="must be"):
        unseal(PRIVATE, sealed[:-1], seal_context(1, 1))


def test_oversized_plaintext_is_refused_with_its_size() -> None:
    with pytest.raises(SealingError, match=f"at most {MAX_PLAINTEXT_BYTES}"):
        seal(PUBLIC, bytes(MAX_PLAINTEXT_BYTES + 1), seal_context(1, 1))


def test_pseudonym_is_keyed_not_a_plain_hash() -> None:
    user_id = 123456789
    first = Pseudonymizer(b"k" * 32).pseudonym(user_id)
    assert first == Pseudonymizer(b"k" * 32).pseudonym(user_id)
    assert first != Pseudonymizer(b"j" * 32).pseudonym(user_id)
    plain_hashes = {
        hashlib.sha256(str(user_id).encode()).hexdigest(),
        hashlib.sha256(user_id.to_bytes(8, "big")).hexdigest(),
    }
    assert first not in plain_hashes


def test_chat_id_is_bound_to_its_member() -> None:
    cipher = ChatIdCipher(bytes(range(32)))
    sealed = cipher.encrypt(987654321, "pseudonym-a")
    assert cipher.decrypt(sealed, "pseudonym-a") == 987654321
    with pytest.raises(IdentityKeyError):
        cipher.decrypt(sealed, "pseudonym-b")


def _paths(tmp_path: Path, split: bool = False) -> KeyPaths:
    return KeyPaths(tmp_path / "keys", tmp_path / ("vault" if split else "keys"))


def test_generated_keys_are_private_files(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    generate_keys(paths)
    files = list(paths.keys_dir.iterdir())
    assert len(files) == 5  # pseudonym, chat id, active pointer, report public + private
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    assert stat.S_IMODE(paths.keys_dir.stat().st_mode) == 0o700


def test_generate_refuses_to_overwrite_existing_keys(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    generate_keys(paths)
    before = {f.name: f.read_bytes() for f in paths.keys_dir.iterdir()}
    with pytest.raises(KeysExistError, match="refusing to overwrite"):
        generate_keys(paths)
    assert {f.name: f.read_bytes() for f in paths.keys_dir.iterdir()} == before


def test_public_key_alone_seals_and_private_key_elsewhere_opens(tmp_path: Path) -> None:
    paths = _paths(tmp_path, split=True)
    key_id = generate_keys(paths)
    bot_side = KeyRing(KeyPaths(paths.keys_dir, tmp_path / "nowhere"))
    assert not (paths.keys_dir / f"report-{key_id}.key").exists()
    sealed = seal(bot_side.active_report_key().public_key, b"x", seal_context(1, 1))
    with pytest.raises(KeysMissingError, match="PULSE_REPORT_PRIVATE_KEYS_DIR"):
        bot_side.report_private_key(key_id)
    assert unseal(KeyRing(paths).report_private_key(key_id), sealed, seal_context(1, 1)) == b"x"


def test_rotation_keeps_old_keys_able_to_open(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    old_id = generate_keys(paths)
    ring = KeyRing(paths)
    old_sealed = seal(ring.active_report_key().public_key, b"old", seal_context(1, 1))
    new_id = rotate_report_key(paths)
    ring = KeyRing(paths)
    assert new_id != old_id
    assert ring.active_report_key().key_id == new_id
    assert ring.report_key_ids() == sorted([old_id, new_id])
    assert unseal(ring.report_private_key(old_id), old_sealed, seal_context(1, 1)) == b"old"


def test_missing_keys_say_how_to_fix(tmp_path: Path) -> None:
    ring = KeyRing(_paths(tmp_path))
    with pytest.raises(KeysMissingError, match="pulse init"):
        ring.active_report_key()
    with pytest.raises(KeysMissingError, match="pulse init"):
        ring.pseudonymizer()


def test_batch_sealer_gives_distinct_fixed_length_payloads_that_each_open() -> None:
    sealer = Sealer(PUBLIC)
    contexts = [seal_context(3, unit) for unit in (1, 1, 2)]
    payloads = [sealer.seal(b'{"a":1}', context) for context in contexts]
    assert len(set(payloads)) == 3
    assert {len(p) for p in payloads} == {SEALED_BYTES}
    unsealer = Unsealer(PRIVATE)
    for payload, context in zip(payloads, contexts, strict=True):
        assert unsealer.unseal(payload, context) == b'{"a":1}'
    with pytest.raises(SealingError, match="not sealed for this round and unit"):
        unsealer.unseal(payloads[0], seal_context(3, 2))
    other_batch = Sealer(PUBLIC).seal(b"x", contexts[0])
    assert unsealer.unseal(other_batch, contexts[0]) == b"x"
