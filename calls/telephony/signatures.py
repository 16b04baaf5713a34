"""Whether a carrier signed a webhook request. Each carrier's client knows its own algorithm
(``CarrierClient.validate_signature``); this checks it against the public URL the carrier
requested, with the auth token of the account the active schema uses for that carrier (the
organization's own credential, or the platform's): call it inside the organization's schema,
as ``calls.webhooks.carrier_webhook`` does."""

from __future__ import annotations

import structlog
from django.conf import settings
from django.http import HttpRequest

from calls.exceptions import CarrierNotConfigured
from calls.telephony.base import public_url
from calls.telephony.credentials import carrier_client
from integrations.exceptions import CredentialUnreadable

__all__ = ["request_is_signed"]

logger = structlog.get_logger(__name__)


def request_is_signed(request: HttpRequest, *, provider: str) -> bool:
    """Whether the account that owns this webhook signed this request, checked against the
    public URL (behind a proxy the request's own host and scheme are not what the carrier
    signed). No usable account means no valid signature."""
    body = request.body  # read before POST so the raw body stays available
    try:
        client = carrier_client(provider)
    except CarrierNotConfigured:
        return False
    except CredentialUnreadable:
        logger.error("webhook_credential_unreadable", provider=provider)
        return False
    return client.validate_signature(
        url=public_url(settings.PUBLIC_BASE_URL, request.get_full_path()),
        params=request.POST,
        headers=request.headers,
        body=body,
    )
