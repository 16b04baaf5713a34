"""Carrier clients for the active organization: the one place that turns credentials into a
carrier client. Which account is decided by ``integrations.selectors.credential_resolve``
(the organization's own credential, else the platform's from settings when
``ALLOW_PLATFORM_CREDENTIALS`` allows it); the API host stays a platform setting
(``TWILIO_API_BASE_URL``, ``PLIVO_API_BASE_URL``), so tests point every client at a loopback
fake by changing settings only."""

from __future__ import annotations

from django.conf import settings

from calls.exceptions import CarrierNotConfigured
from calls.telephony.base import Carrier, CarrierClient
from calls.telephony.registry import CARRIERS, carrier_for
from integrations.exceptions import CredentialMissing
from integrations.selectors import ResolvedCredential, credential_resolve
from integrations.services import credential_use_record

__all__ = ["carrier_client", "carrier_credential"]


def carrier_credential(provider: str) -> ResolvedCredential:
    """The account the active organization uses with ``provider``; CarrierNotConfigured (503,
    saying what to set) when there is none."""
    if provider not in CARRIERS:
        raise CarrierNotConfigured(
            f"Unknown provider {provider!r}.", details={"provider": provider}
        )
    try:
        return credential_resolve(kind=provider)
    except CredentialMissing as exc:
        raise CarrierNotConfigured(
            exc.message, details={"provider": provider, **exc.details}
        ) from None


def carrier_client(provider: str) -> CarrierClient:
    """A client for the active organization's account with ``provider``."""
    credential = carrier_credential(provider)
    if provider == Carrier.TWILIO:
        client = carrier_for(
            provider,
            account_sid=credential.identifier("account_sid"),
            auth_token=credential.secret,
            api_base_url=settings.TWILIO_API_BASE_URL,
        )
    elif provider == Carrier.PLIVO:
        client = carrier_for(
            provider,
            auth_id=credential.identifier("auth_id"),
            auth_token=credential.secret,
            api_base_url=settings.PLIVO_API_BASE_URL,
        )
    else:  # a carrier in the registry without a branch here
        raise CarrierNotConfigured(
            f"No client is built for {provider!r} yet.", details={"provider": provider}
        )
    credential_use_record(resolved=credential)
    return client
