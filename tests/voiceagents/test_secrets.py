"""Secrets at rest: Fernet encryption with rotating keys, and values that never print."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from voiceagents import secrets

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    def use(*configured: str) -> None:
        settings.SECRETS_ENCRYPTION_KEYS = list(configured)

    return use


def test_round_trip_and_ciphertext_holds_no_part_of_the_secret(keys):
    keys(NEW_KEY)
    plaintext = "sk-live-0123456789abcdef"
    ciphertext = secrets.encrypt(plaintext)
    assert secrets.decrypt(ciphertext) == plaintext
    for start in range(0, len(plaintext) - 4):
        assert plaintext[start : start + 5] not in ciphertext


def test_old_ciphertext_still_decrypts_after_a_new_key_is_put_in_front(keys):
    keys(OLD_KEY)
    ciphertext = secrets.encrypt("auth-token-old")
    keys(NEW_KEY, OLD_KEY)
    assert secrets.decrypt(ciphertext) == "auth-token-old"
    assert not secrets.is_current(ciphertext)
    rotated = secrets.reencrypt(ciphertext)
    assert secrets.is_current(rotated)
    keys(NEW_KEY)
    assert secrets.decrypt(rotated) == "auth-token-old"
    with pytest.raises(secrets.SecretDecryptionFailed):
        secrets.decrypt(ciphertext)


def test_missing_or_malformed_keys_say_what_to_set(keys):
    keys()
    with pytest.raises(ImproperlyConfigured, match="SECRETS_ENCRYPTION_KEYS"):
        secrets.encrypt("x")
    keys("not-a-fernet-key")
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        secrets.encrypt("x")


def test_a_secret_never_prints_its_value(keys):
    keys(NEW_KEY)
    secret = secrets.Secret.from_plaintext("hunter2-hunter2")
    assert "hunter2" not in str(secret)
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in f"{secret} {[secret]} { ({'k': secret}) }"
    assert secret.reveal() == "hunter2-hunter2"
    assert not secrets.Secret("")
    assert str(secrets.Secret("")) == ""


def test_last_four_is_shown_only_for_long_secrets():
    assert secrets.last_four("sk-0123456789wxyz") == "wxyz"
    assert secrets.last_four("short") == ""
