"""Carrier webhooks at the HTTP edge, the parts that are not a view: the decorator that
finds whose webhook it is and refuses what that account did not sign, and the one place where
a webhook selects its organization's schema. The URLs, call references and signatures
themselves are carrier knowledge and live in ``calls.telephony``.

Every webhook comes to the main host (public schema). Whose it is comes from, in order:
1. ``?c=<ref>``, a reference we signed and put in the URLs of calls we placed or answered
   (organization schema + call id); it is the only way for Plivo transfer and recording URLs;
2. the public phone-number index (``organizations.PhoneNumberClaim``) for the numbers the
   carrier names (an inbound call's or SMS's ``To``; a status callback's ``To``/``From``).
Then :func:`tenant_activated` switches to that schema, and the signature is checked there, with
the auth token of the account that owns the number: the organization's own credential, or the
platform's when it has none and the platform allows it. A request signed with any other
account's token (another organization's, or the platform's when the organization has its own)
is refused. A webhook that leads to no organization (a number nobody holds) is checked against
the platform's account and answered in the public schema. Nothing else in the webhook path
touches the schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from calls.metrics import WEBHOOKS_REJECTED
from calls.numbers import carrier_number
from calls.telephony.registry import CARRIERS
from calls.telephony.signatures import request_is_signed
from calls.telephony.urls import call_ref_read
from organizations.models import Organization, PhoneNumberClaim

__all__ = ["WebhookTarget", "carrier_webhook", "tenant_activated", "webhook_target"]

logger = structlog.get_logger(__name__)


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

# What a carrier's signature headers start with, for the log of a refused request.
_SIGNATURE_HEADER_PREFIXES = tuple(
    spec.signature_header_prefix.lower() for spec in CARRIERS.values()
)


WebhookView = Callable[..., HttpResponse]


def _refused(request: HttpRequest, carrier: str, target: WebhookTarget | None) -> HttpResponse:
    WEBHOOKS_REJECTED.labels(carrier).inc()
    logger.warning(
        "webhook_signature_rejected",
        provider=carrier,
        path=request.path,
        organization=target.organization.schema_name if target else None,
        remote_addr=request.META.get("REMOTE_ADDR"),
        has_signature=any(
            name.lower().startswith(_SIGNATURE_HEADER_PREFIXES) for name in request.headers
        ),
    )
    return HttpResponseForbidden("Invalid signature.", content_type="text/plain")


def carrier_webhook(*, numbers: tuple[str, ...] = ()) -> Callable[[WebhookView], WebhookView]:
    """Decorates a webhook view whose URL names its ``carrier`` (calls/urls.py): POST only,
    CSRF-exempt (carriers hold no CSRF token; the signature is the authentication). Whose
    webhook it is comes first (the ``?c=`` reference, else the claims of the form fields
    ``numbers``, in order); the signature is then checked with that account's token, and the
    view runs inside that organization's schema as ``view(request, carrier=..., target=...)``
    (``target`` is None, in the public schema, when no organization was found). 403 for
    anything the owning account did not sign."""

    def decorate(view: WebhookView) -> WebhookView:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, carrier: str, **kwargs: Any) -> HttpResponse:
            request.body  # noqa: B018 (read before POST so the raw body stays available)
            target = webhook_target(request, numbers=[request.POST.get(n, "") for n in numbers])
            if target is None:
                if not request_is_signed(request, provider=carrier):
                    return _refused(request, carrier, None)
                return view(request, *args, carrier=carrier, target=None, **kwargs)
            with tenant_activated(target):
                if not request_is_signed(request, provider=carrier):
                    return _refused(request, carrier, target)
                return view(request, *args, carrier=carrier, target=target, **kwargs)

        return csrf_exempt(require_POST(wrapped))

    return decorate
