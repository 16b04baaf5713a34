"""Carrier webhooks, the parts that are not a view: the public URLs we hand to carriers, the
signed call reference inside them, signature checking, and the one place where a webhook
selects its organization's schema.

Every webhook comes to the main host (public schema). Whose it is comes from, in order:
1. ``?c=<ref>``, a reference we signed and put in the URLs of calls we placed or answered
   (organization schema + call id); it is the only way for Plivo transfer and recording URLs;
2. the public phone-number index (``organizations.PhoneNumberClaim``) for the number the
   carrier names (an inbound call's or SMS's ``To``).
Then :func:`tenant_activated` switches to that schema for the rest of the request. Nothing else
in the webhook path touches the schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import structlog
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from calls.carriers import carrier_client
from calls.exceptions import CarrierNotConfigured
from calls.metrics import WEBHOOKS_REJECTED
from calls.numbers import carrier_number
from calls.telephony.base import public_url
from organizations.models import Organization, PhoneNumberClaim

logger = structlog.get_logger(__name__)

_REF_SALT = "calls.webhook-ref"


# --- URLs we give carriers ---------------------------------------------------------------------


def public_webhook_url(route_name: str, **query: str) -> str:
    """Absolute URL of one of our telephony routes, on PUBLIC_BASE_URL: what the carrier
    requests and therefore what it signs."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(route_name)
    return f"{url}?{urlencode(query)}" if query else url


def media_stream_url(*, provider: str, token: str) -> str:
    """``wss://<public host>/ws/<provider>/media/<token>`` (``ws://`` for an http base)."""
    base = urlsplit(settings.PUBLIC_BASE_URL)
    scheme = "wss" if base.scheme == "https" else "ws"
    path = base.path.rstrip("/") + f"/ws/{provider}/media/{token}"
    return urlunsplit((scheme, base.netloc, path, "", ""))


# --- the signed reference in callback URLs ----------------------------------------------------


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


# --- whose webhook is it -----------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    organization: Organization
    call_id: int | None = None
    ref: dict[str, Any] = field(default_factory=dict)


def webhook_target(request: HttpRequest, *, numbers: Iterable[str] = ()) -> WebhookTarget | None:
    """The organization (and call, when our reference names one) a webhook is for; None when
    neither the reference nor any of ``numbers`` leads to one."""
    raw_ref = request.GET.get("c")
    if raw_ref:
        ref = call_ref_read(raw_ref)
        if ref is None:
            logger.warning("webhook_bad_reference", path=request.path)
            return None
        organization = Organization.objects.filter(schema_name=ref["s"]).first()
        if organization is None:
            return None
        return WebhookTarget(organization=organization, call_id=int(ref["c"]), ref=ref)
    for raw in numbers:
        if not raw:
            continue
        claim = (
            PhoneNumberClaim.objects.select_related("organization")
            .filter(number=carrier_number(raw))
            .first()
        )
        if claim is not None:
            return WebhookTarget(organization=claim.organization)
    return None


@contextmanager
def tenant_activated(target: WebhookTarget) -> Iterator[Organization]:
    """The one place a carrier webhook switches to its organization's schema."""
    structlog.contextvars.bind_contextvars(organization=target.organization.schema_name)
    with tenant_context(target.organization):
        yield target.organization


# --- signatures ----------------------------------------------------------------------------------


def request_is_signed(request: HttpRequest, *, provider: str) -> bool:
    """Whether the carrier signed this request, checked against the public URL (behind a proxy
    the request's own host and scheme are not what the carrier signed)."""
    body = request.body  # read before POST so the raw body stays available
    try:
        client = carrier_client(provider)
    except CarrierNotConfigured:
        return False
    return client.validate_signature(
        url=public_url(settings.PUBLIC_BASE_URL, request.get_full_path()),
        params=request.POST,
        headers=request.headers,
        body=body,
    )


def carrier_webhook(provider: str) -> Callable:
    """Decorates a webhook view: POST only, CSRF-exempt (carriers hold no CSRF token; the
    signature is the authentication), and 403 for anything the carrier did not sign."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request_is_signed(request, provider=provider):
                WEBHOOKS_REJECTED.labels(provider).inc()
                logger.warning(
                    "webhook_signature_rejected",
                    provider=provider,
                    path=request.path,
                    remote_addr=request.META.get("REMOTE_ADDR"),
                    has_signature=any(
                        name.lower().startswith(("x-twilio-signature", "x-plivo-signature"))
                        for name in request.headers
                    ),
                )
                return HttpResponseForbidden("Invalid signature.", content_type="text/plain")
            return view(request, *args, **kwargs)

        return csrf_exempt(require_POST(wrapped))

    return decorate
