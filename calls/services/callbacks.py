"""Carrier callbacks: call progress (ringing, answered, machine verdicts, the final status),
however late, repeated or out of order they come, and recordings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from calls import lifecycle
from calls.control import bridge_control_on_commit
from calls.models import Call, CallDirection, CallEvent, CallStatus, EndReason
from calls.services.timeline import _advance, _calls_for_update, _event, _finalize, _webhook_payload
from calls.telephony.base import StatusUpdate
from calls.telephony.registry import carrier_class

__all__ = ["call_recording_store", "call_status_callback"]

logger = structlog.get_logger(__name__)


def _callback_time(params: Mapping[str, Any]) -> dt.datetime | None:
    """The moment the carrier says the event happened (Twilio's RFC 2822 ``Timestamp``)."""
    raw = params.get("Timestamp")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None


def _end_reason_from_callback(
    call: Call, status: CallStatus, update: StatusUpdate, params: Mapping[str, Any]
) -> str:
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
                bridge_control_on_commit(call_id=call.pk, action="machine_detected")
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
            end_reason=_end_reason_from_callback(call, update.status, update, params),
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
