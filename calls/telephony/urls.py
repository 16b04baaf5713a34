"""The URLs we hand carriers: webhook URLs and media-stream URLs on PUBLIC_BASE_URL, and the
signed call reference (``?c=``) inside callback URLs, which tells a later webhook whose call
it is (``calls.webhooks.webhook_target`` reads it back)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse

from calls.telephony.registry import carrier_spec

__all__ = [
    "call_ref_issue",
    "call_ref_read",
    "carrier_webhook_urls",
    "media_stream_url",
    "public_webhook_url",
]

_REF_SALT = "calls.webhook-ref"


def public_webhook_url(route_name: str, **query: str) -> str:
    """Absolute URL of one of our telephony routes, on PUBLIC_BASE_URL: what the carrier
    requests and therefore what it signs."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(route_name)
    return f"{url}?{urlencode(query)}" if query else url


def carrier_webhook_urls(provider: str) -> dict[str, str]:
    """The URLs a number of ``provider`` is configured with on the carrier: ``voice`` (Twilio's
    voice URL, Plivo's application answer URL), ``status`` (Twilio's status callback, Plivo's
    hangup URL), ``sms`` (messaging URL, Plivo's message URL) and ``recording`` (where
    recordings are announced; each call we answer or place already names it with its own
    reference)."""
    spec = carrier_spec(provider)
    return {
        "voice": public_webhook_url(spec.answer_route),
        "status": public_webhook_url(spec.status_route),
        "sms": public_webhook_url(spec.sms_route),
        "recording": public_webhook_url(spec.recording_route),
    }


def media_stream_url(*, provider: str, token: str) -> str:
    """``wss://<public host>/ws/<provider>/media/<token>`` (``ws://`` for an http base)."""
    base = urlsplit(settings.PUBLIC_BASE_URL)
    scheme = "wss" if base.scheme == "https" else "ws"
    path = base.path.rstrip("/") + f"/ws/{provider}/media/{token}"
    return urlunsplit((scheme, base.netloc, path, "", ""))


def call_ref_issue(*, schema_name: str, call_id: int, **extra: str) -> str:
    """A signed ``schema + call id`` (+ ``extra``) for a callback URL. It does not expire:
    recordings and final status callbacks may come hours later, and the carrier's own
    signature over the whole URL already proves the request is the carrier's."""
    return signing.Signer(salt=_REF_SALT, sep=".").sign_object(
        {"s": schema_name, "c": int(call_id), **extra}
    )


def call_ref_read(value: str) -> dict[str, Any] | None:
    try:
        data = signing.Signer(salt=_REF_SALT, sep=".").unsign_object(value)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and "s" in data and "c" in data else None
