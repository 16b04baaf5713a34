"""Calls stuck in an active status hold a concurrency slot until something ends them: queued
with no worker to dial them, ringing or in progress when the carrier's final callback never
came (or the process holding the media stream died). This reconciles them: the carrier is
asked what really happened where it can be, and a call it cannot vouch for is ended as
``stale_call``; either way the call's timeline says so.

The sweep then repairs the scheduled runs whose end-of-call hook was lost (a process died
between a call's commit and the hook), and those of batches that ended
(``scheduled_runs_repair``): the same periodic visit of every organization.

Safe to run on several workers at once: each call is handled in its own transaction under a
row lock taken with SKIP LOCKED, so a call another worker holds (or a webhook is updating) is
left to that one, and the conditions are checked again on the locked row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.validation import MAX_CALL_DURATION_RANGE
from calls import lifecycle
from calls.control import bridge_control_on_commit
from calls.exceptions import CallsErrorCode, CarrierNotConfigured
from calls.models import Call, CallEvent, CallStatus, EndReason
from calls.services.schedule_runs import scheduled_runs_repair
from calls.services.timeline import _advance, _event, _finalize
from calls.telephony.base import CallState, CarrierError
from calls.telephony.credentials import carrier_client

__all__ = ["StaleCallOutcome", "call_stale_reconcile"]

logger = structlog.get_logger(__name__)

# A call without an agent (none left to read a limit from) may last the longest an agent can.
MAX_CALL_SECONDS = MAX_CALL_DURATION_RANGE[1]
SOURCE = "stale_calls"


@dataclass(frozen=True, slots=True)
class StaleCallOutcome:
    """What the sweep did to one call: ``ended`` by what the carrier reported (``carrier``)
    or as stale (``stale``), or left alone because the carrier says it is live (``live``)."""

    call_id: int
    status_was: str
    status: str
    outcome: str
    reason: str


def _stale_calls(now: dt.datetime) -> QuerySet[Call]:
    """Calls past their status's threshold (settings ``STALE_CALL_*``)."""
    queued_before = now - dt.timedelta(seconds=settings.STALE_CALL_QUEUED_SECONDS)
    ringing_before = now - dt.timedelta(seconds=settings.STALE_CALL_RINGING_SECONDS)
    margin = dt.timedelta(seconds=settings.STALE_CALL_IN_PROGRESS_MARGIN_SECONDS)
    longest = ExpressionWrapper(
        Coalesce(F("agent__max_call_duration_seconds"), Value(MAX_CALL_SECONDS))
        * Value(dt.timedelta(seconds=1)),
        output_field=DurationField(),
    )
    return Call.objects.annotate(
        ringing_since=Coalesce("ringing_at", "placed_at", "created_at"),
        answered_since=Coalesce("answered_at", "ringing_at", "placed_at", "created_at"),
        in_progress_until=F("answered_since") + longest + Value(margin),
    ).filter(
        Q(status=CallStatus.QUEUED, created_at__lt=queued_before)
        | Q(status=CallStatus.RINGING, ringing_since__lt=ringing_before)
        | Q(status=CallStatus.IN_PROGRESS, in_progress_until__lt=now)
    )


def call_stale_reconcile(
    *, now: dt.datetime | None = None, limit: int = 200
) -> list[StaleCallOutcome]:
    """Reconcile up to ``limit`` stale calls of the active organization; returns what was done
    to each (calls another worker holds are skipped), then repairs the organization's
    scheduled runs left behind by lost hooks. Keeps nothing between runs."""
    now = now or timezone.now()
    call_ids = list(_stale_calls(now).order_by("created_at").values_list("pk", flat=True)[:limit])
    outcomes = []
    for call_id in call_ids:
        outcome = _reconcile(call_id, now)
        if outcome is not None:
            outcomes.append(outcome)
    scheduled_runs_repair(now=now, limit=limit)
    return outcomes


def _reconcile(call_id: int, now: dt.datetime) -> StaleCallOutcome | None:
    with transaction.atomic():
        # ``of``: the agent is LEFT JOINed (it is nullable), which FOR UPDATE cannot lock.
        call = (
            _stale_calls(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("agent")
            .filter(pk=call_id)
            .first()
        )
        if call is None:
            return None  # another worker holds it, or it moved on since it was listed
        status_was = call.status
        # Asked under the lock: the carrier's answer is applied to the row it describes. A
        # webhook for this call waits for it (a call this quiet rarely gets one).
        state, reason = _carrier_state(call)
        if state is not None and state.status is not None and not state.is_final:
            _advance(call, state.status, at=now, source=SOURCE, exact_time=False)
            logger.info(
                "stale_call_live", call_id=call.pk, status=call.status, carrier=state.raw_status
            )
            return StaleCallOutcome(call.pk, status_was, call.status, "live", reason)
        if state is not None and state.status is not None:
            _event(
                call,
                CallEvent.Kind.INFO,
                "stale_call_reconciled",
                {"status_was": status_was, "carrier_status": state.raw_status},
            )
            _finalize(
                call,
                status=state.status,
                end_reason=lifecycle.END_REASON_FOR_STATUS[state.status],
                at=now,
                source=SOURCE,
                duration_seconds=state.duration_seconds,
            )
            outcome = "carrier"
        else:
            message = (
                f"Still {status_was} after {_minutes(call, now)} min and {reason}: "
                "ended by the stale-calls sweep."
            )
            _event(
                call,
                CallEvent.Kind.ERROR,
                "stale_call",
                {"status_was": status_was, "reason": reason},
            )
            _finalize(
                call,
                status=CallStatus.FAILED,
                end_reason=EndReason.FAILED,
                at=now,
                source=SOURCE,
                error_code=CallsErrorCode.STALE_CALL,
                error_message=message,
            )
            outcome = "stale"
        if status_was == CallStatus.IN_PROGRESS:
            # A media bridge still open somewhere (its process alive, its carrier gone) closes.
            bridge_control_on_commit(call_id=call.pk, action="hangup", end_reason=EndReason.FAILED)
    logger.info("stale_call_ended", call_id=call.pk, status_was=status_was, outcome=outcome)
    return StaleCallOutcome(call.pk, status_was, call.status, outcome, reason)


def _carrier_state(call: Call) -> tuple[CallState | None, str]:
    """The carrier's view of the call, or None and why there is none."""
    if not call.provider_call_id:
        return None, "it was never dialed" if call.placed_at is None else "it has no carrier id"
    try:
        state = carrier_client(call.provider).fetch_call_status(call.provider_call_id)
    except CarrierNotConfigured as exc:
        return None, f"its carrier cannot be asked ({exc.message})"
    except CarrierError as exc:
        return None, f"its carrier could not be asked ({exc.message})"
    if state is None:
        return None, "the carrier does not know it"
    if state.status is None:
        return None, f"the carrier says {state.raw_status!r}"
    return state, ""


def _minutes(call: Call, now: dt.datetime) -> int:
    since = {
        CallStatus.QUEUED: call.created_at,
        CallStatus.RINGING: call.ringing_at or call.placed_at or call.created_at,
    }.get(CallStatus(call.status), call.answered_at or call.created_at)
    return int((now - since).total_seconds() // 60)
