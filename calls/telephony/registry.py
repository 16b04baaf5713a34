"""Which carriers exist and everything carrier-specific about each (its ``CarrierSpec``: client
class, media protocol, webhook field names, our routes). The rest of the code names carriers
only by string and looks them up here; adding a carrier is a module ending in a
``CarrierSpec`` and one entry below."""

from __future__ import annotations

from typing import Any

from calls.telephony import plivo, twilio
from calls.telephony.base import Carrier, CarrierClient, CarrierSpec

__all__ = ["CARRIERS", "carrier_class", "carrier_for", "carrier_spec"]

CARRIERS: dict[str, CarrierSpec] = {
    spec.name: spec
    for spec in (
        twilio.CARRIER,
        plivo.CARRIER,
    )
}
if set(CARRIERS) != set(Carrier.values):
    # The models' carrier choices and this registry must name the same carriers.
    raise RuntimeError("calls.telephony.base.Carrier and the carrier registry differ")


def carrier_spec(provider: str) -> CarrierSpec:
    """Everything carrier-specific about ``provider``; ValueError for a carrier we do not know."""
    try:
        return CARRIERS[provider]
    except KeyError:
        known = ", ".join(sorted(CARRIERS))
        raise ValueError(f"unknown telephony provider {provider!r} (known: {known})") from None


def carrier_class(provider: str) -> type[CarrierClient]:
    """The class for ``provider``, for what needs no credentials (status mapping)."""
    return carrier_spec(provider).client_class


def carrier_for(provider: str, **credentials: Any) -> CarrierClient:
    """A client for one carrier account.

    Twilio: ``account_sid``, ``auth_token``; Plivo: ``auth_id``, ``auth_token``; both accept
    ``api_base_url`` (tests point it at a loopback fake) and ``timeout``.
    """
    return carrier_class(provider)(**credentials)
