"""Tokens in media-stream URLs (``/ws/twilio/media/<token>``): signed, short-lived and single
use, naming the organization's schema and the call.

The carrier opens the WebSocket to the main host, before any tenant is known, so the token is
what selects the tenant for the media consumer. Signed with ``django.core.signing`` (the
project's SECRET_KEY and a salt of our own); the signer uses ``.`` as its separator so the
token is made of URL-safe base64 characters and dots only and sits in a URL path as it is
(Twilio refuses query strings on stream URLs). Single use is enforced with Redis ``SET NX`` on
the token's random nonce, kept only as long as the token would have been valid anyway.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import redis
from django.conf import settings
from django.core import signing

from calls.exceptions import InvalidStreamToken

__all__ = ["InvalidStreamToken", "StreamGrant", "stream_token_consume", "stream_token_issue"]

_SALT = "calls.stream-token"
_SEPARATOR = "."


@dataclass(frozen=True, slots=True)
class StreamGrant:
    schema_name: str
    call_id: int


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT, sep=_SEPARATOR)


def stream_token_issue(*, schema_name: str, call_id: int, ttl_seconds: int = 300) -> str:
    payload = {
        "s": schema_name,
        "c": int(call_id),
        "e": int(time.time()) + int(ttl_seconds),
        "n": secrets.token_urlsafe(12),
    }
    return _signer().sign_object(payload)


def stream_token_consume(token: str) -> StreamGrant:
    """The grant in ``token``, once; InvalidStreamToken on a bad signature, expiry or reuse."""
    try:
        payload = _signer().unsign_object(token)
        schema_name, call_id = str(payload["s"]), int(payload["c"])
        expires_at, nonce = int(payload["e"]), str(payload["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidStreamToken() from exc
    remaining = expires_at - int(time.time())
    if remaining <= 0:
        raise InvalidStreamToken("This media stream token has expired.")
    if not _redis().set(_nonce_key(nonce), "1", nx=True, ex=remaining):
        raise InvalidStreamToken("This media stream token has already been used.")
    return StreamGrant(schema_name=schema_name, call_id=call_id)


def _nonce_key(nonce: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:stream-token:{nonce}"


def _redis() -> redis.Redis:
    # The cache's Redis (tests isolate it per run); a raw client, because the cache's key
    # function prefixes keys with whatever tenant schema is active and this key must not vary.
    # cast: settings.py sets LOCATION with env_str; mypy infers CACHES' values as Collection[str].
    return _client_for(cast(str, settings.CACHES["default"]["LOCATION"]))


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
