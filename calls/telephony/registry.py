"""Which class talks to which carrier. The rest of the code names carriers only by string."""

from __future__ import annotations

from typing import Any

from calls.telephony.base import CarrierClient
from calls.telephony.plivo import PlivoClient
from calls.telephony.twilio import TwilioClient

CARRIERS: dict[str, type[CarrierClient]] = {
    TwilioClient.provider: TwilioClient,
    PlivoClient.provider: PlivoClient,
}


def carrier_class(provider: str) -> type[CarrierClient]:
    """The class for ``provider``, for what needs no credentials (status mapping)."""
    try:
        return CARRIERS[provider]
    except KeyError:
        known = ", ".join(sorted(CARRIERS))
        raise ValueError(f"unknown telephony provider {provider!r} (known: {known})") from None


def carrier_for(provider: str, **credentials: Any) -> CarrierClient:
    """A client for one carrier account.

    Twilio: ``account_sid``, ``auth_token``; Plivo: ``auth_id``, ``auth_token``; both accept
    ``api_base_url`` (tests point it at a loopback fake) and ``timeout``.
    """
    return carrier_class(provider)(**credentials)
