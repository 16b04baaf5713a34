"""Secrets at rest: what organizations give us (carrier auth tokens, model API keys, MCP and
webhook credentials) is stored encrypted, and the plain value exists only where it is used.

Encryption is Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) behind a MultiFernet
built from ``settings.SECRETS_ENCRYPTION_KEYS``, newest first: new values are encrypted with
the first key, and any listed key decrypts. Rotating is therefore "put a new key in front,
run ``manage.py secrets_reencrypt``, then drop the old key".

``EncryptedSecretField`` makes "store encrypted, never serialize" the default: the database
column holds only ciphertext, the attribute is a :class:`Secret` whose ``str``/``repr`` are
masked (so it cannot leak through a log line, a template or an error message by accident),
and the plain text is reached only through ``Secret.reveal()``. The field is not editable, so
no ModelForm, admin form or ModelSerializer shows it unless someone asks for it by name.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

MASK = "••••"


class SecretDecryptionFailed(Exception):
    """The ciphertext was written with a key that is no longer configured (or was altered)."""


def generate_key() -> str:
    """A new key for ``SECRETS_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


def _configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.SECRETS_ENCRYPTION_KEYS if k.strip())
    if not keys:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEYS is empty: set it to one or more Fernet keys, newest first "
            '(generate one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())").'
        )
    return keys


def encryption_keys_check() -> None:
    """Refuse to start a server or worker without usable keys: called when the ASGI/WSGI
    application or a Celery worker/beat starts (not at settings import, so management commands
    and tooling that never touch a secret still load). Raises ImproperlyConfigured."""
    _fernet()


@functools.lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"SECRETS_ENCRYPTION_KEYS holds a value that is not a Fernet key: {exc}"
        ) from None


def _fernet() -> MultiFernet:
    # Keyed on the configured tuple, so a settings change (tests, rotation) takes effect.
    return _fernet_for(_configured_keys())


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionFailed(
            "A stored secret cannot be decrypted with any key in SECRETS_ENCRYPTION_KEYS."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """The same secret encrypted with the newest key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionFailed(
            "A stored secret cannot be decrypted with any key in SECRETS_ENCRYPTION_KEYS."
        ) from None


def is_current(ciphertext: str) -> bool:
    """Whether ``ciphertext`` was written with the newest key."""
    newest = Fernet(_configured_keys()[0].encode())
    try:
        newest.decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def last_four(plaintext: str) -> str:
    """What may be shown of a secret: its last four characters, for secrets long enough that
    this gives nothing away."""
    return plaintext[-4:] if len(plaintext) >= 12 else ""


class Secret:
    """A stored secret. Holds the ciphertext; ``reveal()`` decrypts on demand."""

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    @classmethod
    def from_plaintext(cls, plaintext: str) -> Secret:
        return cls(encrypt(plaintext))

    def reveal(self) -> str:
        return decrypt(self.ciphertext)

    def __bool__(self) -> bool:
        return bool(self.ciphertext)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)

    def __str__(self) -> str:
        return MASK if self.ciphertext else ""

    def __repr__(self) -> str:
        return f"<Secret {MASK}>" if self.ciphertext else "<Secret (empty)>"


class EncryptedSecretField(models.TextField):
    """A column of ciphertext whose attribute is a :class:`Secret`.

    Assign a plain ``str`` to set a new value (it is encrypted when saved) or a ``Secret``;
    ``""`` or ``None`` store an empty value. Not editable by default, and ``value_to_string``
    (dumpdata, serializers) gives the ciphertext, never the plain text.
    """

    description = "An encrypted secret"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Secret:
        return Secret(value or "")

    def to_python(self, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if not value:
            return Secret("")
        return Secret.from_plaintext(str(value))

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, Secret):
            return value.ciphertext
        if not value:
            return ""
        return encrypt(str(value))

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return value.ciphertext if isinstance(value, Secret) else self.get_prep_value(value)
