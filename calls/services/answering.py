"""Answering (carrier -> us): the documents we answer a carrier's call webhook with. An
inbound call is routed, recorded and connected to its agent's media stream (or given the
number's fallback); an outbound call the callee picked up is connected; and the documents
a live call is redirected to (a transfer's dial, a goodbye) are served here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from calls.exceptions import ConcurrencyLimitReached
from calls.metrics import CALLS_STARTED
from calls.models import (
    Call,
    CallDirection,
    CallEvent,
    CallStatus,
    EndReason,
    FallbackAction,
    PhoneNumber,
)
from calls.numbers import carrier_number
from calls.selectors import RouteDecision, call_route
from calls.services._common import _agent_version, _concurrency_check
from calls.services.timeline import _advance, _calls_for_update, _event, _finalize, _webhook_payload
from calls.stream_tokens import stream_token_issue
from calls.telephony.base import CarrierClient
from calls.telephony.credentials import carrier_client
from calls.telephony.registry import carrier_spec
from calls.telephony.urls import call_ref_issue, media_stream_url, public_webhook_url
from voiceagents.tenancy import current_schema_name

__all__ = [
    "BUSY_MESSAGE",
    "CALL_ENDED_MESSAGE",
    "UNKNOWN_NUMBER_MESSAGE",
    "call_forward_answer",
    "call_inbound_answer",
    "call_message_answer",
    "call_outbound_answer",
]

UNKNOWN_NUMBER_MESSAGE = "Sorry, the number you have called is not in service. Goodbye."
CALL_ENDED_MESSAGE = "This call has ended. Goodbye."
BUSY_MESSAGE = "Sorry, all our lines are busy right now. Please try again later. Goodbye."


def _stream_document(client: CarrierClient, call: Call) -> str:
    """The answer that connects the call's audio to our media WebSocket, with a fresh
    single-use token naming this organization and call."""
    schema_name = current_schema_name()
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
    caller_id = call.phone_number.number if call and call.phone_number else None
    return client.forward_answer(to_number, caller_id=caller_id)


def call_message_answer(*, provider: str, message: str) -> str:
    """The document a call redirected by call_say_and_hangup fetches (Plivo)."""
    return carrier_client(provider).say_and_hangup(message)
