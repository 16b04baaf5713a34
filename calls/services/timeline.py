"""The call's timeline and state: every webhook and state change is written to the call's
timeline (CallEvent) by name, here, never by signals; status changes follow the rules of
``calls.lifecycle`` and are applied to a call locked for the change. The other service
modules use these helpers for every change of a call's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import structlog
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from calls import lifecycle
from calls.metrics import CALLS_ENDED
from calls.models import Call, CallEvent, CallStatus, EndReason
from calls.services._common import _fail
from calls.services.batch_rows import batch_row_call_ended_on_commit, batch_slot_freed_on_commit
from calls.services.schedule_runs import scheduled_run_call_ended_on_commit
from calls.services.webhook_events import call_ended_announce, call_started_announce

__all__ = ["call_finalize", "call_mark_in_progress"]

logger = structlog.get_logger(__name__)


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
    if status == CallStatus.IN_PROGRESS:
        call_started_announce(call)
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
    if call.batch_row_id is not None:
        # After commit: the row records the outcome and the freed slot is filled at once.
        batch_row_call_ended_on_commit(call_id=call.pk)
    if call.schedule_id is not None:
        # After commit: the scheduled run records the outcome, or waits for its retry.
        scheduled_run_call_ended_on_commit(call_id=call.pk)
    # Any call's end frees a slot of the organization: batches waiting for one dial at once.
    batch_slot_freed_on_commit(batch_id=call.batch_id)
    call_ended_announce(call)  # webhooks: call.failed now, call.ended after the analysis
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
