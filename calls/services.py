"""Writes for telephony (the product's PhoneService and CallService): numbers and their routing
rules, the call lifecycle from both directions, carrier callbacks, recordings and SMS.

Every function runs in the active tenant schema (the API, a webhook's ``tenant_activated``
block or a Celery task selected it). Status changes go through ``calls.lifecycle``; every
webhook and every state change is written to the call's timeline (CallEvent) right here, by
name, never by signals. Carrier requests are never made inside a transaction that could roll
back: outbound dialing is a Celery task sent on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.exceptions import AgentNotFound
from agents.models import Agent, AgentVersion
from calls import lifecycle, tasks
from calls.bridge.control import bridge_control_send
from calls.exceptions import (
    AgentUnavailable,
    CallAlreadyEnded,
    CallNotInProgress,
    CarrierNotConfigured,
    CarrierRequestFailed,
    ConcurrencyLimitReached,
    NoCallerId,
    PhoneNumberTaken,
)
from calls.locks import call_concurrency_lock
from calls.metrics import CALLS_ENDED, CALLS_STARTED
from calls.models import (
    ACTIVE_STATUSES,
    Call,
    CallDirection,
    CallEvent,
    CallStatus,
    EndReason,
    FallbackAction,
    Message,
    MessageDirection,
    MessageStatus,
    PhoneNumber,
    RoutingRule,
)
from calls.numbers import carrier_number, e164
from calls.selectors import (
    RouteDecision,
    agent_is_available,
    call_get,
    call_route,
    current_organization,
)
from calls.stream_tokens import stream_token_issue
from calls.telephony.base import Carrier, CarrierClient, CarrierError, StatusUpdate
from calls.telephony.credentials import carrier_client
from calls.telephony.registry import carrier_class, carrier_spec
from calls.telephony.urls import call_ref_issue, media_stream_url, public_webhook_url
from organizations.models import PhoneNumberClaim
from voiceagents.exceptions import ValidationFailed

logger = structlog.get_logger(__name__)

UNKNOWN_NUMBER_MESSAGE = "Sorry, the number you have called is not in service. Goodbye."
CALL_ENDED_MESSAGE = "This call has ended. Goodbye."
BUSY_MESSAGE = "Sorry, all our lines are busy right now. Please try again later. Goodbye."
SMS_MAX_LENGTH = 1600


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field_name: [message]}})


def _carrier_failure(exc: CarrierError, **details: Any) -> CarrierRequestFailed:
    return CarrierRequestFailed(
        f"The carrier refused the request: {exc.message}",
        details={
            "carrier_code": exc.code,
            "carrier_message": exc.message,
            "kind": str(exc.kind),
            **details,
        },
    )


# === phone numbers ===============================================================================

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
    agent = Agent.objects.alive().filter(pk=pk).first()
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


@transaction.atomic
def phone_number_create(
    *,
    number: str,
    provider: str = Carrier.TWILIO,
    rules: list[Mapping[str, Any]] | None = None,
    **settings_fields: Any,
) -> PhoneNumber:
    """Register one of the carrier's numbers with this organization, and claim it in the
    public index in the same transaction so no other organization can hold it."""
    number = e164(number, field="number")
    if provider not in Carrier.values:
        raise _fail("provider", f"Choose one of {Carrier.values}.")
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


def phone_number_import(*, provider: str = Carrier.TWILIO) -> PhoneNumberImportResult:
    """Bring the numbers of the platform's carrier account into this organization: new ones are
    added, ours are refreshed (id, name, capabilities), and numbers another organization holds
    (or that are not valid E.164) are skipped."""
    if provider not in Carrier.values:
        raise _fail("provider", f"Choose one of {Carrier.values}.")
    try:
        numbers = carrier_client(provider).list_numbers()
    except CarrierError as exc:
        raise _carrier_failure(exc) from exc
    result = PhoneNumberImportResult()
    for item in numbers:
        number = carrier_number(item.number)
        fields = {
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
            continue
        try:
            phone_number_create(number=number, provider=provider, **fields)
        except (PhoneNumberTaken, ValidationFailed):
            result.skipped.append(number)
            continue
        result.created.append(number)
    logger.info(
        "phone_numbers_imported",
        provider=provider,
        created=len(result.created),
        updated=len(result.updated),
        skipped=len(result.skipped),
    )
    return result


# === the call's timeline and state machine =======================================================


def _event(
    call: Call,
    kind: str,
    name: str,
    payload: Mapping[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
) -> CallEvent:
    return CallEvent.objects.create(
        call=call,
        kind=kind,
        name=name[:64],
        payload=dict(payload or {}),
        created_at=at or timezone.now(),
    )


def _webhook_payload(params: Mapping[str, Any]) -> dict[str, Any]:
    getlist = getattr(params, "getlist", None)
    if getlist is None:
        return dict(params)
    return {
        key: (values[0] if len(values) == 1 else values)
        for key, values in ((key, getlist(key)) for key in params)
    }


def _calls_for_update() -> QuerySet[Call]:
    # ``of=("self",)``: the agent is joined with a LEFT JOIN (the call's agent is nullable),
    # and PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
    return Call.objects.select_for_update(of=("self",)).select_related("agent")


def _locked(call_id: int) -> Call:
    return _calls_for_update().get(pk=call_id)


def _advance(call: Call, status: str, *, at: dt.datetime, source: str, exact_time: bool) -> bool:
    """Move a locked call forward to ``ringing`` or ``in_progress``; a stale or repeated
    status changes nothing, except that a late callback carrying its own timestamp still
    fills a moment we never saw (when it rang, when it was answered)."""
    timestamp_field = {CallStatus.RINGING: "ringing_at", CallStatus.IN_PROGRESS: "answered_at"}.get(
        CallStatus(status)
    )
    if not lifecycle.can_transition(call.status, status):
        if timestamp_field and exact_time and getattr(call, timestamp_field) is None:
            setattr(call, timestamp_field, at)
            call.save(update_fields=[timestamp_field, "updated_at"])
        return False
    previous = call.status
    call.status = status
    columns = ["status", "updated_at"]
    if timestamp_field and getattr(call, timestamp_field) is None:
        setattr(call, timestamp_field, at)
        columns.append(timestamp_field)
    call.save(update_fields=columns)
    _event(call, CallEvent.Kind.STATUS, f"{previous} → {status}", {"source": source}, at=at)
    return True


def _finalize(
    call: Call,
    *,
    status: str,
    end_reason: str,
    at: dt.datetime,
    source: str,
    usage: Mapping[str, Any] | None = None,
    duration_seconds: int | None = None,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """End a locked call, once. Returns whether this call did it.

    On an already-final call only facts are added (usage the bridge reports late, the
    carrier's duration) and a generic "completed" may be refined by a more specific reason;
    the status and end time never change again.
    """
    columns: list[str] = []
    if usage and not call.usage:
        call.usage, columns = dict(usage), [*columns, "usage"]
    if duration_seconds is not None and call.duration_seconds != duration_seconds:
        # The carrier's figure is what it bills; it wins over our own estimate.
        call.duration_seconds, columns = duration_seconds, [*columns, "duration_seconds"]
    if call.is_final:
        if lifecycle.end_reason_refines(call.end_reason, end_reason):
            _event(
                call,
                CallEvent.Kind.INFO,
                "end_reason_refined",
                {"from": call.end_reason, "to": end_reason, "source": source},
            )
            call.end_reason, columns = end_reason, [*columns, "end_reason"]
        if columns:
            call.save(update_fields=[*columns, "updated_at"])
        return False

    previous = call.status
    preset = call.end_reason
    # A reason we knew before the end (transferred, voicemail) outlives a generic completion.
    if not (status == CallStatus.COMPLETED and preset in lifecycle.COMPLETED_REASONS):
        call.end_reason = end_reason
    call.status = status
    call.ended_at = at
    if call.duration_seconds is None and call.answered_at is not None:
        call.duration_seconds = max(0, int((at - call.answered_at).total_seconds()))
    if error_code or error_message:
        call.error_code, call.error_message = error_code[:32], error_message
    call.save(
        update_fields=[
            *columns,
            "status",
            "end_reason",
            "ended_at",
            "duration_seconds",
            "error_code",
            "error_message",
            "updated_at",
        ]
    )
    _event(
        call,
        CallEvent.Kind.STATUS,
        f"{previous} → {status}",
        {"source": source, "end_reason": call.end_reason},
        at=at,
    )
    direction, reason = call.direction, call.end_reason
    transaction.on_commit(lambda: CALLS_ENDED.labels(direction, reason).inc())
    logger.info("call_ended", call_id=call.pk, status=status, end_reason=reason, source=source)
    return True


def call_finalize(
    *,
    call_id: int,
    end_reason: str,
    usage: Mapping[str, Any] | None = None,
    duration_seconds: int | None = None,
    ended_at: dt.datetime | None = None,
    error_code: str = "",
    error_message: str = "",
    source: str = "bridge",
) -> Call:
    """End the call with ``end_reason``, exactly once (later calls only add usage or refine a
    generic "completed"). Used by the media bridge, the API and carrier callbacks."""
    if end_reason not in EndReason.values:
        raise _fail("end_reason", f"Choose one of {EndReason.values}.")
    with transaction.atomic():
        call = _locked(call_id)
        _finalize(
            call,
            status=lifecycle.status_for_end_reason(end_reason),
            end_reason=end_reason,
            at=ended_at or timezone.now(),
            source=source,
            usage=usage,
            duration_seconds=duration_seconds,
            error_code=error_code,
            error_message=error_message,
        )
    return call


def call_mark_in_progress(
    *,
    call_id: int,
    provider_call_id: str | None = None,
    at: dt.datetime | None = None,
    source: str = "bridge",
) -> Call:
    """The call is connected (the media stream started, or the carrier says it was answered).
    Idempotent; does nothing to a call that already ended."""
    with transaction.atomic():
        call = _locked(call_id)
        if provider_call_id and not call.provider_call_id:
            call.provider_call_id = provider_call_id
            call.save(update_fields=["provider_call_id", "updated_at"])
        _advance(
            call,
            CallStatus.IN_PROGRESS,
            at=at or timezone.now(),
            source=source,
            exact_time=at is not None,
        )
    return call


# === outbound ====================================================================================


def _caller_number(*, agent: Agent, from_phone: str | None) -> PhoneNumber:
    """The number an outbound call comes from: the one asked for, else the organization's
    default caller id, else a number assigned to the agent."""
    if from_phone:
        number = e164(from_phone, field="from_phone")
        phone_number = PhoneNumber.objects.filter(number=number, voice_enabled=True).first()
        if phone_number is None:
            raise _fail("from_phone", f"{number} is not one of this organization's voice numbers.")
        return phone_number
    default = current_organization().default_caller_id
    if default:
        phone_number = PhoneNumber.objects.filter(number=default, voice_enabled=True).first()
        if phone_number is not None:
            return phone_number
    phone_number = (
        PhoneNumber.objects.filter(agent=agent, voice_enabled=True).order_by("id").first()
    )
    if phone_number is None:
        raise NoCallerId()
    return phone_number


def _concurrency_check() -> None:
    """Refuse a new call when the organization is at its limit. Call inside the transaction
    that creates the call, after taking the lock (calls.locks says why)."""
    organization = current_organization()
    call_concurrency_lock(organization_id=organization.pk)
    active = Call.objects.filter(status__in=ACTIVE_STATUSES).count()
    if active >= organization.max_concurrent_calls:
        raise ConcurrencyLimitReached(
            details={
                "active_calls": active,
                "max_concurrent_calls": organization.max_concurrent_calls,
            }
        )


def _agent_version(agent: Agent) -> AgentVersion | None:
    return AgentVersion.objects.filter(agent=agent, number=agent.version).first()


def call_initiate(
    *,
    agent_id: int,
    to_phone: str,
    from_phone: str | None = None,
    variables: Mapping[str, Any] | None = None,
    batch_id: int | None = None,
    schedule_id: int | None = None,
) -> Call:
    """Start an outbound call: the Call row is created now (queued) and dialed by a Celery task
    once this transaction commits, so an API request never waits on the carrier and a
    rolled-back transaction never leaves a phone ringing. The organization's concurrency limit
    is checked under a lock."""
    to_number = e164(to_phone, field="to_phone")
    agent = Agent.objects.alive().filter(pk=_int_or_none(agent_id)).first()
    if agent is None:
        raise AgentNotFound()
    if not agent_is_available(agent):
        raise AgentUnavailable(details={"agent_id": agent.pk})
    if variables is not None and not isinstance(variables, Mapping):
        raise _fail("variables", "Give an object of names and values.")
    phone_number = _caller_number(agent=agent, from_phone=from_phone)
    with transaction.atomic():
        _concurrency_check()
        call = Call.objects.create(
            direction=CallDirection.OUTBOUND,
            from_number=phone_number.number,
            to_number=to_number,
            phone_number=phone_number,
            provider=phone_number.provider,
            agent=agent,
            agent_version=_agent_version(agent),
            status=CallStatus.QUEUED,
            variables=dict(variables or {}),
            batch_id=batch_id,
            schedule_id=schedule_id,
        )
        _event(
            call,
            CallEvent.Kind.ACTION,
            "created",
            {"to": to_number, "from": phone_number.number, "agent_id": agent.pk},
        )
        tasks.enqueue_on_commit(tasks.call_place, call_id=call.pk)
        provider = call.provider
        transaction.on_commit(lambda: CALLS_STARTED.labels("outbound", provider).inc())
    logger.info("call_initiated", call_id=call.pk, agent_id=agent.pk)
    return call


initiate_call = call_initiate


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def call_place(*, call_id: int) -> Call | None:
    """Ask the carrier to dial a queued outbound call, at most once: ``placed_at`` is claimed
    with a conditional update first, so a task run twice (or a call ended before its turn)
    never rings anyone twice. A carrier refusal ends the call as failed with the carrier's
    code and message."""
    claimed = Call.objects.filter(
        pk=call_id, status=CallStatus.QUEUED, placed_at__isnull=True
    ).update(placed_at=timezone.now())
    if not claimed:
        logger.info("call_place_skipped", call_id=call_id)
        return None
    call = Call.objects.select_related("agent").get(pk=call_id)
    agent = call.agent
    ref = call_ref_issue(schema_name=connection.schema_name, call_id=call.pk)
    try:
        client = carrier_client(call.provider)
        spec = carrier_spec(call.provider)
        placed = client.place_call(
            to=call.to_number,
            from_=call.from_number,
            answer_url=public_webhook_url(spec.answer_route, c=ref),
            status_callback_url=public_webhook_url(spec.status_route, c=ref),
            machine_detection=bool(agent and agent.voicemail_message),
            time_limit_seconds=agent.max_call_duration_seconds if agent else None,
        )
    except (CarrierError, CarrierNotConfigured) as exc:
        code, message = exc.code, exc.message
        with transaction.atomic():
            call = _locked(call_id)
            _event(
                call,
                CallEvent.Kind.ERROR,
                "carrier_error",
                {
                    "code": code,
                    "message": message,
                    "kind": str(getattr(exc, "kind", "not_configured")),
                    "http_status": getattr(exc, "http_status", None),
                },
            )
            _finalize(
                call,
                status=CallStatus.FAILED,
                end_reason=EndReason.FAILED,
                at=timezone.now(),
                source="carrier",
                error_code=code,
                error_message=message,
            )
        logger.warning("call_place_failed", call_id=call_id, code=code, message=message)
        return call
    with transaction.atomic():
        call = _locked(call_id)
        if not call.provider_call_id:
            call.provider_call_id = placed.provider_call_id
            call.save(update_fields=["provider_call_id", "updated_at"])
        _event(
            call,
            CallEvent.Kind.ACTION,
            "placed",
            {"provider_call_id": placed.provider_call_id, "carrier_status": placed.status},
        )
        ended_meanwhile = call.is_final
    if ended_meanwhile:
        # Ended through the API while we were dialing: do not let the phone ring on.
        _hangup_quietly(client, call, placed.provider_call_id)
    return call


def _hangup_quietly(client: CarrierClient, call: Call, provider_call_id: str) -> None:
    try:
        client.hangup(provider_call_id)
    except CarrierError as exc:
        _event(
            call, CallEvent.Kind.ERROR, "hangup_failed", {"code": exc.code, "message": exc.message}
        )


def _live_call_request(
    call: Call, failed_event: str, request: Callable[[CarrierClient], Any], **details: Any
) -> None:
    """Send one request about a live call to its carrier; a refusal is put on the call's
    timeline (with ``details``) and raised as CarrierRequestFailed."""
    try:
        request(carrier_client(call.provider))
    except CarrierError as exc:
        _event(
            call,
            CallEvent.Kind.ERROR,
            failed_event,
            {**details, "code": exc.code, "message": exc.message},
        )
        raise _carrier_failure(exc, call_id=call.pk) from exc


def call_end(*, call_id: int, end_reason: str = EndReason.AGENT_HANGUP) -> Call:
    """Hang up through the carrier and end the call. A call not dialed yet is just canceled;
    one still ringing ends as canceled."""
    call = call_get(call_id=call_id)
    if call.is_final:
        raise CallAlreadyEnded(details={"status": call.status})
    if call.provider_call_id:
        _live_call_request(call, "hangup_failed", lambda c: c.hangup(call.provider_call_id))
    with transaction.atomic():
        call = _locked(call.pk)
        _event(call, CallEvent.Kind.ACTION, "hangup", {"end_reason": end_reason})
        reason = end_reason if call.status == CallStatus.IN_PROGRESS else EndReason.CANCELED
        _finalize(
            call,
            status=lifecycle.status_for_end_reason(reason),
            end_reason=reason,
            at=timezone.now(),
            source="api",
        )
    return call


end_call = call_end


def call_transfer(*, call_id: int, to_number: str) -> Call:
    """Hand a live call to a human at ``to_number``. The AI leg ends; the call itself goes on
    with the human until the carrier reports its end, and then ends as "transferred"."""
    target = e164(to_number, field="to_number")
    call = call_get(call_id=call_id)
    if call.is_final:
        raise CallAlreadyEnded(details={"status": call.status})
    if call.status != CallStatus.IN_PROGRESS or not call.provider_call_id:
        raise CallNotInProgress(details={"status": call.status})
    forward_route = carrier_spec(call.provider).forward_route
    forward_url = forward_route and public_webhook_url(
        forward_route,
        c=call_ref_issue(schema_name=connection.schema_name, call_id=call.pk, n=target),
    )
    _live_call_request(
        call,
        "transfer_failed",
        lambda c: c.transfer(call.provider_call_id, to_number=target, forward_url=forward_url),
        to=target,
    )
    with transaction.atomic():
        call = _locked(call.pk)
        _event(call, CallEvent.Kind.ACTION, "transferred", {"to": target})
        if not call.is_final:
            call.end_reason = EndReason.TRANSFERRED
            call.save(update_fields=["end_reason", "updated_at"])
    return call


transfer_call = call_transfer


def call_say_and_hangup(*, call_id: int, message: str) -> Call:
    """Make a live call say ``message`` and hang up (the bridge's apology when the model
    fails). The call then ends through the carrier's callbacks or the bridge's finalize."""
    call = call_get(call_id=call_id)
    if call.is_final or not call.provider_call_id:
        return call
    say_route = carrier_spec(call.provider).say_route
    document_url = say_route and public_webhook_url(
        say_route,
        c=call_ref_issue(schema_name=connection.schema_name, call_id=call.pk, m=message),
    )
    _live_call_request(
        call,
        "say_and_hangup_failed",
        lambda c: c.say_and_hangup_live(
            call.provider_call_id, message=message, document_url=document_url
        ),
    )
    _event(call, CallEvent.Kind.ACTION, "say_and_hangup", {"message": message})
    return call


def call_message_answer(*, provider: str, message: str) -> str:
    """The document a call redirected by call_say_and_hangup fetches (Plivo)."""
    return carrier_client(provider).say_and_hangup(message)


# === answering (carrier -> us) ===================================================================


def _stream_document(client: CarrierClient, call: Call) -> str:
    """The answer that connects the call's audio to our media WebSocket, with a fresh
    single-use token naming this organization and call."""
    schema_name = connection.schema_name
    token = stream_token_issue(schema_name=schema_name, call_id=call.pk)
    record_url = None
    if call.agent is not None and call.agent.recording_enabled:
        record_url = public_webhook_url(
            carrier_spec(call.provider).recording_route,
            c=call_ref_issue(schema_name=schema_name, call_id=call.pk),
        )
    return client.stream_answer(
        stream_url=media_stream_url(provider=call.provider, token=token),
        parameters={"callId": str(call.pk)},
        record_callback_url=record_url,
    )


def _fallback_document(client: CarrierClient, decision: RouteDecision, caller_id: str) -> str:
    if decision.fallback_action == FallbackAction.FORWARD and decision.forward_number:
        return client.forward_answer(decision.forward_number, caller_id=caller_id)
    return client.say_and_hangup(decision.fallback_message)


def call_inbound_answer(
    *,
    provider: str,
    provider_call_id: str,
    from_number: str,
    to_number: str,
    payload: Mapping[str, Any],
) -> str:
    """Answer a call to one of our numbers: route it, record it, and return the carrier
    document that connects it to the agent (or plays the number's fallback). A webhook the
    carrier repeats for the same call is answered again without a second Call row."""
    client = carrier_client(provider)
    from_number, to_number = carrier_number(from_number), carrier_number(to_number)
    phone_number = PhoneNumber.objects.select_related("agent").filter(number=to_number).first()
    if phone_number is None:
        return client.say_and_hangup(UNKNOWN_NUMBER_MESSAGE)
    now = timezone.now()
    with transaction.atomic():
        call = (
            _calls_for_update().filter(provider=provider, provider_call_id=provider_call_id).first()
        )
        if call is not None:
            _event(call, CallEvent.Kind.WEBHOOK, f"{provider}.answer", _webhook_payload(payload))
            if call.is_final:
                return client.say_and_hangup(CALL_ENDED_MESSAGE)
            if call.agent is None:
                return client.say_and_hangup(BUSY_MESSAGE)
            return _stream_document(client, call)

        decision = call_route(
            from_number=from_number, to_number=to_number, phone_number=phone_number, at=now
        )
        if not decision.is_fallback:
            try:
                with transaction.atomic():
                    _concurrency_check()
            except ConcurrencyLimitReached:
                decision = decision.as_fallback("the organization is at its concurrent-call limit")
        call = Call.objects.create(
            direction=CallDirection.INBOUND,
            from_number=from_number,
            to_number=to_number,
            phone_number=phone_number,
            provider=provider,
            provider_call_id=provider_call_id,
            agent=decision.agent,
            agent_version=_agent_version(decision.agent) if decision.agent else None,
            status=CallStatus.RINGING,
            ringing_at=now,
            created_at=now,
        )
        _event(
            call, CallEvent.Kind.WEBHOOK, f"{provider}.answer", _webhook_payload(payload), at=now
        )
        _event(
            call,
            CallEvent.Kind.INFO,
            "routed",
            {
                "rule": decision.rule,
                "rule_id": decision.rule_id,
                "rule_name": decision.rule_name,
                "reason": decision.reason,
                "agent_id": decision.agent.pk if decision.agent else None,
                "fallback": decision.fallback_action,
            },
            at=now,
        )
        transaction.on_commit(lambda: CALLS_STARTED.labels("inbound", provider).inc())
        # We answer at once: the call is connected as soon as the carrier gets our document.
        _advance(call, CallStatus.IN_PROGRESS, at=now, source=provider, exact_time=True)
        if decision.is_fallback:
            # No agent will hold this call open or end it: it ends with the fallback.
            forwarded = decision.fallback_action == FallbackAction.FORWARD and bool(
                decision.forward_number
            )
            _finalize(
                call,
                status=CallStatus.COMPLETED,
                end_reason=EndReason.TRANSFERRED if forwarded else EndReason.COMPLETED,
                at=now,
                source="routing",
            )
            return _fallback_document(client, decision, caller_id=to_number)
        return _stream_document(client, call)


def call_outbound_answer(
    *, provider: str, call_id: int, provider_call_id: str, payload: Mapping[str, Any]
) -> str:
    """The callee picked up a call we placed: connect it to the agent."""
    client = carrier_client(provider)
    with transaction.atomic():
        call = _calls_for_update().filter(pk=call_id).first()
        if call is None:
            return client.say_and_hangup(CALL_ENDED_MESSAGE)
        _event(call, CallEvent.Kind.WEBHOOK, f"{provider}.answer", _webhook_payload(payload))
        if provider_call_id and call.provider_call_id != provider_call_id:
            # Plivo dials under a request id and names the live call by another (CallUUID).
            call.provider_call_id = provider_call_id
            call.save(update_fields=["provider_call_id", "updated_at"])
        if call.is_final:
            return client.say_and_hangup(CALL_ENDED_MESSAGE)
        _advance(call, CallStatus.IN_PROGRESS, at=timezone.now(), source=provider, exact_time=True)
        return _stream_document(client, call)


def call_forward_answer(*, provider: str, call_id: int, to_number: str) -> str:
    """The document a transfer redirects the call to (Plivo fetches it by URL)."""
    client = carrier_client(provider)
    call = Call.objects.filter(pk=call_id).first()
    caller_id = call.phone_number.number if call and call.phone_number_id else None
    return client.forward_answer(to_number, caller_id=caller_id)


# === carrier callbacks ===========================================================================


def _callback_time(params: Mapping[str, Any]) -> dt.datetime | None:
    """The moment the carrier says the event happened (Twilio's RFC 2822 ``Timestamp``)."""
    raw = params.get("Timestamp")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None


def _end_reason_from_callback(call: Call, update: StatusUpdate, params: Mapping[str, Any]) -> str:
    status = update.status
    if status != CallStatus.COMPLETED:
        return lifecycle.END_REASON_FOR_STATUS[status]
    if call.answered_by == "machine" and call.agent and call.agent.voicemail_message:
        return EndReason.VOICEMAIL
    # Plivo says who hung up; the human is the caller inbound and the callee outbound.
    human_side = "Caller" if call.direction == CallDirection.INBOUND else "Callee"
    if params.get("HangupSource") == human_side:
        return EndReason.CALLER_HANGUP
    limit = call.agent.max_call_duration_seconds if call.agent else None
    if limit and update.duration_seconds is not None and update.duration_seconds >= limit:
        return EndReason.MAX_DURATION
    return EndReason.COMPLETED


def _find_call(*, provider: str, call_id: int | None, update: StatusUpdate | None) -> Call | None:
    calls = _calls_for_update()
    if call_id is not None:
        return calls.filter(pk=call_id).first()
    ids = {i for i in (update.provider_call_id, update.placed_call_id) if i} if update else set()
    if not ids:
        return None
    return calls.filter(provider=provider, provider_call_id__in=ids).first()


def call_status_callback(
    *, provider: str, params: Mapping[str, Any], call_id: int | None = None
) -> Call | None:
    """Apply one carrier status callback (ringing, answered, machine verdict, final status)
    to the call it names, however late, repeated or out of order it is. Returns None when no
    call of ours matches."""
    update = carrier_class(provider).parse_status_callback(params)
    at = _callback_time(params)
    with transaction.atomic():
        call = _find_call(provider=provider, call_id=call_id, update=update)
        if call is None:
            logger.warning(
                "status_callback_unknown_call",
                provider=provider,
                provider_call_id=update.provider_call_id,
            )
            return None
        _event(
            call,
            CallEvent.Kind.WEBHOOK,
            f"{provider}.status",
            _webhook_payload(params),
            at=timezone.now(),
        )
        columns: list[str] = []
        if update.provider_call_id and call.provider_call_id != update.provider_call_id:
            call.provider_call_id, columns = update.provider_call_id, [*columns, "provider_call_id"]
        if update.is_machine is not None and not call.answered_by:
            call.answered_by = "machine" if update.is_machine else "human"
            columns.append("answered_by")
            _event(call, CallEvent.Kind.INFO, "answered_by", {"answered_by": call.answered_by})
            if update.is_machine:
                # The live bridge leaves the voicemail message and hangs up.
                call_pk = call.pk
                transaction.on_commit(
                    lambda: bridge_control_send(call_id=call_pk, action="machine_detected")
                )
        if update.recording_url and not call.recording_url:
            call.recording_url, columns = update.recording_url, [*columns, "recording_url"]
        if columns:
            call.save(update_fields=[*columns, "updated_at"])
        if update.status is None or update.status == CallStatus.QUEUED:
            return call
        if update.status in (CallStatus.RINGING, CallStatus.IN_PROGRESS):
            _advance(
                call,
                update.status,
                at=at or timezone.now(),
                source=provider,
                exact_time=at is not None,
            )
            return call
        _finalize(
            call,
            status=update.status,
            end_reason=_end_reason_from_callback(call, update, params),
            at=at or timezone.now(),
            source=provider,
            duration_seconds=update.duration_seconds,
        )
    return call


def call_recording_store(
    *,
    call_id: int,
    url: str,
    duration_seconds: int | None,
    payload: Mapping[str, Any],
    provider: str,
) -> Call | None:
    """Keep the recording's URL and length on the call (idempotent: a repeat changes nothing
    but the timeline)."""
    with transaction.atomic():
        call = _calls_for_update().filter(pk=call_id).first()
        if call is None:
            return None
        _event(call, CallEvent.Kind.WEBHOOK, f"{provider}.recording", _webhook_payload(payload))
        if url:
            call.recording_url = url
            call.recording_duration_seconds = duration_seconds
            call.save(update_fields=["recording_url", "recording_duration_seconds", "updated_at"])
    return call


# === SMS =========================================================================================


def _sms_number(*, from_number: str | None, call: Call | None) -> PhoneNumber:
    if from_number:
        number = e164(from_number, field="from_number")
        phone_number = PhoneNumber.objects.filter(number=number).first()
        if phone_number is None:
            raise _fail("from_number", f"{number} is not one of this organization's numbers.")
    elif call is not None and call.phone_number_id:
        phone_number = call.phone_number
    else:
        default = current_organization().default_caller_id
        sms_numbers = PhoneNumber.objects.filter(sms_enabled=True)
        phone_number = (sms_numbers.filter(number=default).first() if default else None) or (
            sms_numbers.order_by("id").first()
        )
        if phone_number is None:
            raise _fail("from_number", "This organization has no number that can send SMS.")
    if not phone_number.sms_enabled:
        raise _fail("from_number", f"{phone_number.number} cannot send SMS.")
    return phone_number


def message_send(
    *,
    body: str,
    to_number: str | None = None,
    from_number: str | None = None,
    call_id: int | None = None,
) -> Message:
    """Send an SMS now and keep it. During a call (``call_id``) it goes by default from the
    call's number to the other party and is linked to the call. On a carrier refusal the
    message is kept as failed and CarrierRequestFailed is raised."""
    call = call_get(call_id=call_id) if call_id is not None else None
    if to_number:
        to = e164(to_number, field="to_number")
    elif call is not None:
        to = call.counterpart_number
    else:
        raise _fail("to_number", "This field is required.")
    body = (body or "").strip()
    if not body:
        raise _fail("body", "The message is empty.")
    if len(body) > SMS_MAX_LENGTH:
        raise _fail("body", f"A message has at most {SMS_MAX_LENGTH} characters.")
    phone_number = _sms_number(from_number=from_number, call=call)
    client = carrier_client(phone_number.provider)
    message = Message.objects.create(
        direction=MessageDirection.OUTBOUND,
        phone_number=phone_number,
        call=call,
        from_number=phone_number.number,
        to_number=to,
        body=body,
        provider=phone_number.provider,
        status=MessageStatus.QUEUED,
    )
    try:
        sent = client.send_sms(to=to, from_=phone_number.number, body=body)
    except CarrierError as exc:
        message.status = MessageStatus.FAILED
        message.error_code, message.error_message = exc.code[:32], exc.message
        message.save(update_fields=["status", "error_code", "error_message"])
        raise _carrier_failure(exc, message_id=message.pk) from exc
    message.status = MessageStatus.SENT
    message.provider_message_id = sent.provider_message_id
    message.save(update_fields=["status", "provider_message_id"])
    if call is not None:
        _event(call, CallEvent.Kind.ACTION, "sms_sent", {"message_id": message.pk, "to": to})
    return message


def message_receive(
    *,
    provider: str,
    provider_message_id: str,
    from_number: str,
    to_number: str,
    body: str,
) -> Message | None:
    """Keep an SMS a carrier delivered to one of our numbers, once per carrier message id;
    linked to the live call with the same person on that number, if there is one."""
    to_number, from_number = carrier_number(to_number), carrier_number(from_number)
    phone_number = PhoneNumber.objects.filter(number=to_number).first()
    if phone_number is None:
        return None
    if provider_message_id:
        existing = Message.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).first()
        if existing is not None:
            return existing
    call = (
        Call.objects.filter(phone_number=phone_number, status=CallStatus.IN_PROGRESS)
        .filter(_counterpart_q(from_number))
        .order_by("-created_at")
        .first()
    )
    try:
        with transaction.atomic():
            message = Message.objects.create(
                direction=MessageDirection.INBOUND,
                phone_number=phone_number,
                call=call,
                from_number=from_number,
                to_number=to_number,
                body=body,
                provider=provider,
                provider_message_id=provider_message_id,
                status=MessageStatus.RECEIVED,
            )
    except IntegrityError:
        # The carrier retried while the first delivery was being stored.
        return Message.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).first()
    if call is not None:
        _event(call, CallEvent.Kind.INFO, "sms_received", {"message_id": message.pk})
    return message


def _counterpart_q(number: str) -> Q:
    """Calls whose other party is ``number``."""
    return Q(direction=CallDirection.INBOUND, from_number=number) | Q(
        direction=CallDirection.OUTBOUND, to_number=number
    )
