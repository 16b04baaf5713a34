"""The platform's carrier accounts, built from settings. This is the one place that turns
credentials into a carrier client, so tests point every client at a loopback fake by changing
settings only (and per-organization accounts will be decided here too)."""

from __future__ import annotations

from django.conf import settings

from calls.exceptions import CarrierNotConfigured
from calls.telephony.base import Carrier, CarrierClient
from calls.telephony.registry import carrier_for

__all__ = ["carrier_client"]


def carrier_client(provider: str) -> CarrierClient:
    if provider == Carrier.TWILIO:
        if not (settings.TWILIO_ACCOUNT_ID and settings.TWILIO_AUTH_TOKEN):
            raise CarrierNotConfigured(
                "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                details={"provider": provider},
            )
        return carrier_for(
            provider,
            account_sid=settings.TWILIO_ACCOUNT_ID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            api_base_url=settings.TWILIO_API_BASE_URL,
        )
    if provider == Carrier.PLIVO:
        if not (settings.PLIVO_AUTH_ID and settings.PLIVO_AUTH_TOKEN):
            raise CarrierNotConfigured(
                "Plivo is not configured: set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN.",
                details={"provider": provider},
            )
        return carrier_for(
            provider,
            auth_id=settings.PLIVO_AUTH_ID,
            auth_token=settings.PLIVO_AUTH_TOKEN,
            api_base_url=settings.PLIVO_API_BASE_URL,
        )
    raise CarrierNotConfigured(f"Unknown provider {provider!r}.", details={"provider": provider})
