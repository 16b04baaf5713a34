"""Writes of the organization's phone numbers (with the public claim that keeps a number in
one organization), their routing rules, and the import from the carrier account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.db import IntegrityError, transaction

from agents.exceptions import AgentNotFound
from agents.models import Agent
from calls.exceptions import CarrierNotConfigured, NumberNotOnCarrierAccount, PhoneNumberTaken
from calls.models import Carrier, FallbackAction, PhoneNumber, RoutingRule
from calls.numbers import carrier_number, e164
from calls.selectors import current_organization
from calls.services._common import _carrier_failure, _fail
from calls.telephony.base import CarrierClient, CarrierError, CarrierNumber
from calls.telephony.credentials import carrier_client, carrier_credential
from calls.telephony.urls import carrier_webhook_urls
from integrations.selectors import CredentialSource
from organizations.models import PhoneNumberClaim
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "PhoneNumberImportResult",
    "phone_number_create",
    "phone_number_delete",
    "phone_number_import",
    "phone_number_update",
    "routing_rule_clean",
    "routing_rules_replace",
]

logger = structlog.get_logger(__name__)

_NUMBER_FIELDS = {
    "friendly_name",
    "provider_id",
    "voice_enabled",
    "sms_enabled",
    "agent_id",
    "fallback_action",
    "fallback_message",
    "fallback_forward_number",
}


def _agent_for_assignment(agent_id: Any) -> Agent | None:
    if agent_id in (None, ""):
        return None
    try:
        pk = int(agent_id)
    except (TypeError, ValueError):
        raise AgentNotFound() from None
    agent: Agent | None = Agent.objects.alive().filter(pk=pk).first()
    if agent is None:
        raise AgentNotFound()
    return agent


def _number_settings_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - _NUMBER_FIELDS
    if unknown:
        raise ValidationFailed(
            details={"fields": {name: ["This field cannot be changed."] for name in unknown}}
        )
    cleaned = dict(data)
    if "agent_id" in cleaned:
        cleaned["agent"] = _agent_for_assignment(cleaned.pop("agent_id"))
    if "fallback_action" in cleaned and cleaned["fallback_action"] not in FallbackAction.values:
        raise _fail("fallback_action", f"Choose one of {FallbackAction.values}.")
    if cleaned.get("fallback_forward_number"):
        cleaned["fallback_forward_number"] = e164(
            cleaned["fallback_forward_number"], field="fallback_forward_number"
        )
    return cleaned


def _forward_fallback_check(phone_number: PhoneNumber) -> None:
    if (
        phone_number.fallback_action == FallbackAction.FORWARD
        and not phone_number.fallback_forward_number
    ):
        raise _fail("fallback_forward_number", "A forward fallback needs the number to forward to.")


def _own_carrier_number(*, number: str, provider: str) -> CarrierNumber | None:
    """``number`` on the organization's own account with ``provider`` (one lookup); None
    when the organization uses the platform's account or has none (nothing to check), and
    NumberNotOnCarrierAccount when its own account has no such number."""
    try:
        credential = carrier_credential(provider)
    except CarrierNotConfigured:
        return None
    if credential.source != CredentialSource.ORGANIZATION:
        return None
    try:
        found = carrier_client(provider).find_number(number)
    except CarrierError as exc:
        raise _carrier_failure(exc) from exc
    if found is None:
        account = next(iter(credential.identifiers.values()), "")
        raise NumberNotOnCarrierAccount(
            f"{number} is not a number of this organization's {provider} account {account}.",
            details={"number": number, "provider": provider, "account": account},
        )
    return found


def phone_number_create(
    *,
    number: str,
    provider: str = Carrier.TWILIO,
    rules: list[Mapping[str, Any]] | None = None,
    carrier_check: bool = True,
    **settings_fields: Any,
) -> PhoneNumber:
    """Register one of the carrier's numbers with this organization, and claim it in the
    public index in the same transaction so no other organization can hold it. When the
    organization has its own account with the carrier, the number must be on it (checked
    with one lookup before anything is written, unless ``carrier_check`` is off because the
    caller just read it from the account), and its carrier id is taken from there."""
    number = e164(number, field="number")
    if provider not in Carrier.values:
        raise _fail("provider", f"Choose one of {Carrier.values}.")
    if carrier_check:
        found = _own_carrier_number(number=number, provider=provider)
        if found is not None and not settings_fields.get("provider_id"):
            settings_fields = {**settings_fields, "provider_id": found.provider_id}
    return _phone_number_register(
        number=number, provider=provider, rules=rules, settings_fields=settings_fields
    )


@transaction.atomic
def _phone_number_register(
    *,
    number: str,
    provider: str,
    rules: list[Mapping[str, Any]] | None,
    settings_fields: Mapping[str, Any],
) -> PhoneNumber:
    cleaned = _number_settings_clean(settings_fields)
    phone_number = PhoneNumber(number=number, provider=provider, **cleaned)
    _forward_fallback_check(phone_number)
    organization = current_organization()
    try:
        with transaction.atomic():
            PhoneNumberClaim.objects.create(
                number=number, organization=organization, provider=provider
            )
            phone_number.save()
    except IntegrityError:
        raise PhoneNumberTaken(details={"number": number}) from None
    if rules is not None:
        routing_rules_replace(phone_number=phone_number, rules=rules)
    logger.info("phone_number_created", number=number, provider=provider)
    return phone_number


@transaction.atomic
def phone_number_update(*, phone_number: PhoneNumber, data: Mapping[str, Any]) -> PhoneNumber:
    """Change a number's settings (and, with ``rules``, replace its rules). The number and its
    provider are fixed: delete and add it again to change them."""
    data = dict(data)
    rules = data.pop("rules", None)
    cleaned = _number_settings_clean(data)
    for name, value in cleaned.items():
        setattr(phone_number, name, value)
    _forward_fallback_check(phone_number)
    if cleaned:
        phone_number.save(update_fields=[*cleaned, "updated_at"])
    if rules is not None:
        routing_rules_replace(phone_number=phone_number, rules=rules)
    return phone_number


@transaction.atomic
def phone_number_delete(*, phone_number: PhoneNumber) -> None:
    """Remove the number and its claim; its calls and messages keep their numbers as text."""
    PhoneNumberClaim.objects.filter(
        number=phone_number.number, organization=current_organization()
    ).delete()
    phone_number.delete()


_RULE_FIELDS = {
    "name",
    "caller_prefix",
    "caller_country",
    "days_of_week",
    "start_time",
    "end_time",
    "agent_id",
    "is_active",
}


def routing_rule_clean(*, data: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """One rule's fields, checked and normalized (errors name ``rules[index].field``)."""

    def fail(name: str, message: str) -> ValidationFailed:
        return _fail(f"rules[{index}].{name}", message)

    unknown = set(data) - _RULE_FIELDS
    if unknown:
        raise fail(sorted(unknown)[0], "Unknown field.")
    cleaned: dict[str, Any] = {
        "name": str(data.get("name") or "")[:100],
        "is_active": bool(data.get("is_active", True)),
    }
    prefix = str(data.get("caller_prefix") or "").replace(" ", "")
    if prefix:
        if not prefix.startswith("+"):
            prefix = "+" + prefix
        if not prefix[1:].isdigit() or len(prefix) > 16:
            raise fail("caller_prefix", f"{prefix!r} is not a number prefix like +1415.")
    cleaned["caller_prefix"] = prefix
    country = str(data.get("caller_country") or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise fail("caller_country", f"{country!r} is not an ISO 3166 code like US.")
    cleaned["caller_country"] = country
    days = data.get("days_of_week") or []
    if not isinstance(days, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
    ):
        raise fail("days_of_week", "Give a list of days, 0 = Monday … 6 = Sunday.")
    cleaned["days_of_week"] = sorted(set(days))
    start, end = data.get("start_time"), data.get("end_time")
    if (start is None) != (end is None):
        raise fail("end_time" if end is None else "start_time", "Give both start and end.")
    if start is not None and not (isinstance(start, dt.time) and isinstance(end, dt.time)):
        raise fail("start_time", "Give times as HH:MM.")
    if start is not None and start == end:
        raise fail("end_time", "The window is empty: the end equals the start.")
    cleaned["start_time"], cleaned["end_time"] = start, end
    if "agent_id" not in data:
        raise fail("agent_id", "This field is required.")
    try:
        cleaned["agent"] = _agent_for_assignment(data["agent_id"])
    except AgentNotFound:
        raise fail("agent_id", "Agent not found.") from None
    if cleaned["agent"] is None:
        raise fail("agent_id", "This field is required.")
    return cleaned


@transaction.atomic
def routing_rules_replace(
    *, phone_number: PhoneNumber, rules: list[Mapping[str, Any]]
) -> list[RoutingRule]:
    """Replace the number's rules with ``rules``, in that order (their positions)."""
    cleaned = [routing_rule_clean(data=data, index=index) for index, data in enumerate(rules)]
    phone_number.rules.all().delete()
    created = RoutingRule.objects.bulk_create(
        RoutingRule(phone_number=phone_number, position=index, **values)
        for index, values in enumerate(cleaned)
    )
    # Callers holding a prefetched number would otherwise still see the old rules.
    getattr(phone_number, "_prefetched_objects_cache", {}).pop("rules", None)
    return created


@dataclass
class PhoneNumberImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Numbers whose webhook URLs were set on the carrier, and those the carrier refused
    # (number -> its message): configure those by hand with the number's carrier_urls.
    configured: list[str] = field(default_factory=list)
    configuration_errors: dict[str, str] = field(default_factory=dict)


def _number_webhooks_configure(
    client: CarrierClient, item: CarrierNumber, number: str, result: PhoneNumberImportResult
) -> None:
    urls = carrier_webhook_urls(client.provider)
    try:
        client.configure_number(
            item, voice_url=urls["voice"], status_url=urls["status"], sms_url=urls["sms"]
        )
    except CarrierError as exc:
        result.configuration_errors[number] = exc.message
        logger.warning("phone_number_configure_failed", number=number, code=exc.code)
        return
    result.configured.append(number)


def phone_number_import(*, provider: str = Carrier.TWILIO) -> PhoneNumberImportResult:
    """Bring the numbers of the organization's carrier account (its own, else the platform's)
    into this organization: new ones are added, ours are refreshed (id, name, capabilities),
    and numbers another organization holds (or that are not valid E.164) are skipped. The
    numbers added or refreshed get their voice, status and SMS URLs set on the carrier to
    ours (Twilio: on the number; Plivo: through our application)."""
    if provider not in Carrier.values:
        raise _fail("provider", f"Choose one of {Carrier.values}.")
    client = carrier_client(provider)
    try:
        numbers = client.list_numbers()
    except CarrierError as exc:
        raise _carrier_failure(exc) from exc
    result = PhoneNumberImportResult()
    for item in numbers:
        number = carrier_number(item.number)
        fields: dict[str, Any] = {
            "provider_id": item.provider_id,
            "friendly_name": item.friendly_name[:100],
            "voice_enabled": item.voice,
            "sms_enabled": item.sms,
        }
        existing = PhoneNumber.objects.filter(number=number).first()
        if existing is not None:
            if existing.provider != provider:
                result.skipped.append(number)
                continue
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save(update_fields=[*fields, "updated_at"])
            result.updated.append(number)
            _number_webhooks_configure(client, item, number, result)
            continue
        try:
            phone_number_create(number=number, provider=provider, carrier_check=False, **fields)
        except (PhoneNumberTaken, ValidationFailed):
            result.skipped.append(number)
            continue
        result.created.append(number)
        _number_webhooks_configure(client, item, number, result)
    logger.info(
        "phone_numbers_imported",
        provider=provider,
        created=len(result.created),
        updated=len(result.updated),
        skipped=len(result.skipped),
        configured=len(result.configured),
    )
    return result
