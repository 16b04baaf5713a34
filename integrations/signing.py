"""Signatures of what we send to an organization's own endpoints (custom tools, webhooks), in
Stripe's style so a receiver verifies them in a few lines of any language:

    X-Voiceagents-Signature: t=1764547200,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``v1`` is the hex HMAC-SHA256, keyed with the endpoint's signing secret, of the timestamp, a
``.`` and the exact body bytes. The timestamp is part of what is signed, so a receiver that
refuses old timestamps (five minutes by default here) cannot be sent a recorded request again
later. A rotation may leave two secrets valid: the header then carries one ``v1`` per secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from secrets import token_urlsafe

__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE_SECONDS",
    "SignatureInvalid",
    "signature_header",
    "signature_verify",
    "signing_secret_generate",
]

SIGNATURE_HEADER = "X-Voiceagents-Signature"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "vasig_"


class SignatureInvalid(Exception):
    """The header is missing, malformed, too old, or signed with another secret."""


def signing_secret_generate() -> str:
    """A new signing secret: 32 random bytes, URL-safe, with a recognisable prefix."""
    return SECRET_PREFIX + token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(
    *, secret: str | Sequence[str], body: bytes, timestamp: int | None = None
) -> str:
    """The header value for ``body`` sent now (or at ``timestamp``), one ``v1`` per secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    keys = [secret] if isinstance(secret, str) else list(secret)
    return ",".join([f"t={timestamp}", *(f"v1={_digest(key, timestamp, body)}" for key in keys)])


def signature_verify(
    *,
    secret: str,
    header: str | None,
    body: bytes,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``body`` and ``secret``; returns the signed timestamp or
    raises SignatureInvalid. Comparisons are constant-time."""
    if not header:
        raise SignatureInvalid("no signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureInvalid("the header needs t=<timestamp> and v1=<signature>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureInvalid("the timestamp is outside the tolerance")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureInvalid("no signature matches")
    return timestamp
