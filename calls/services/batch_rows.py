"""A batch's rows and its own state: row transitions with exact counters, what a finished
call means for its row (the outcome, a retry or the end), the circuit breaker, the batch's
completion, its timeline (BatchEvent) and progress events, and waking the batches that wait
for a slot when any call of the organization ends.

Every status change of a row goes through ``batch_rows_transition``, which moves the row and
the batch's two counters in one transaction with ``F()`` expressions, so ``total = queued +
in_progress + completed + failed + invalid + skipped + canceled`` holds at every moment.

Lock order, the same everywhere so nothing deadlocks: the organization's call-concurrency
lock (dispatch only), then the batch row, then batch rows. A path that locks a batch row
first (a call ended) touches the batch only through the counters' UPDATE, never waits for
another row, and the dispatcher only ever waits for the batch (``SKIP LOCKED`` on rows).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context

from calls.locks import batch_dispatch_lock_try
from calls.models import (
    FINAL_STATUSES,
    Batch,
    BatchEvent,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    BatchStatus,
    Call,
    CallStatus,
    EndReason,
)
from calls.models.batches import COUNTER_FIELDS
from calls.selectors import batches_waiting_for_slot, current_organization
from calls.services.schedule_batch_runs import scheduled_run_batch_ended
from calls.services.webhook_events import batch_completed_announce, batch_progress_announce
from calls.windows import next_window_start
from organizations.models import Organization, User
from voiceagents.queue import enqueue
from voiceagents.tenancy import current_schema_name

__all__ = [
    "BATCH_DISPATCH_TASK",
    "BatchWindow",
    "batch_event_record",
    "batch_progress_group",
    "batch_row_call_ended",
    "batch_row_call_ended_on_commit",
    "batch_row_outcome_for_call",
    "batch_row_transition",
    "batch_rows_transition",
    "batch_slot_freed_on_commit",
    "batch_window",
]

logger = structlog.get_logger(__name__)

# The Celery task that dials a batch's due rows (calls.tasks), sent by name.
BATCH_DISPATCH_TASK = "calls.batch_dispatch"

# Waiting batches sent the dispatcher when a call's end frees one slot of the organization.
# One slot needs one run; a few more cover a run that finds its slot taken (by a single call,
# or by one of several calls ending at once) and so leaves it to the next. The longest
# waiting go first; any left over are found by the next call's end or the periodic tick.
SLOT_WAKE_LIMIT = 3

# Control actions that start the circuit breaker's count afresh.
_BREAKER_RESETS = ("started", "resumed", "failed_rows_retried")


# --- the timeline and progress -------------------------------------------------------------------


def batch_event_record(
    *,
    batch: Batch,
    kind: str,
    name: str,
    payload: Mapping[str, Any] | None = None,
    actor: User | None = None,
) -> BatchEvent:
    """Put one entry on the batch's timeline."""
    return BatchEvent.objects.create(
        batch=batch,
        kind=kind,
        name=name[:64],
        payload=dict(payload or {}),
        actor=actor,
        created_at=timezone.now(),
    )


def batch_progress_group(batch_id: int, schema_name: str | None = None) -> str:
    """The Channels group of a batch's progress events. Batch ids repeat across organizations
    (one schema each), so the group names the schema too: another organization's console can
    never be in it."""
    return f"batch-{schema_name or current_schema_name()}-{batch_id}"


_PROGRESS_FIELDS = ("status", "status_reason", "total_count", *COUNTER_FIELDS.values())
# A running batch with calls in flight sends at most one progress event per this many seconds
# (a console needs no more, and each costs a few milliseconds); a status change, and the
# moment no call is in flight, always send one, so the last counters are never held back.
PROGRESS_INTERVAL_SECONDS = 1


def _progress_on_commit(batch_id: int, *, force: bool = False) -> None:
    """Send the batch's counters to its progress group once this transaction commits. Read
    now: inside the transaction that changed them, they are exactly what commits."""
    snapshot = Batch.objects.filter(pk=batch_id).values(*_PROGRESS_FIELDS).first()
    if snapshot is None:
        return
    group = batch_progress_group(batch_id)
    busy = snapshot["status"] == BatchStatus.RUNNING and snapshot["in_progress_count"] > 0
    if busy and not force and not cache.add(f"{group}:sent", 1, PROGRESS_INTERVAL_SECONDS):
        return
    message = {"type": "batch.progress", "batch_id": batch_id, **snapshot}
    transaction.on_commit(lambda: _group_send(group, message))


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # progress is informative: never fail the dialing for it
        logger.warning("batch_progress_send_failed", group=group, error=repr(exc))


# --- row transitions -----------------------------------------------------------------------------


def batch_rows_transition(
    *,
    batch_id: int,
    rows: QuerySet[BatchRow],
    from_status: str,
    to_status: str,
    **fields: Any,
) -> int:
    """Move the ``rows`` of one batch that are in ``from_status`` to ``to_status`` (setting
    ``fields`` too), and the batch's two counters by the number moved, in one transaction.
    Rows no longer in ``from_status`` are left alone. Returns how many moved."""
    # No savepoint of its own: inside a transaction it is part of it, outside one its own.
    with transaction.atomic(savepoint=False):
        moved = rows.filter(batch_id=batch_id, status=from_status).update(
            status=to_status, updated_at=timezone.now(), **fields
        )
        if moved and from_status != to_status:
            down, up = COUNTER_FIELDS[from_status], COUNTER_FIELDS[to_status]
            Batch.objects.filter(pk=batch_id).update(
                **{down: F(down) - moved, up: F(up) + moved}, updated_at=timezone.now()
            )
    return moved


def batch_row_transition(*, row: BatchRow, to_status: str, **fields: Any) -> bool:
    """Move one row from the status it has (as loaded) to ``to_status``, with ``fields``, and
    the counters with it. False when the row had moved meanwhile (nothing changed then).
    Lock the row first when the decision depends on it."""
    moved = batch_rows_transition(
        batch_id=row.batch_id,
        rows=BatchRow.objects.filter(pk=row.pk),
        from_status=row.status,
        to_status=to_status,
        **fields,
    )
    if moved:
        row.status = to_status
        for name, value in fields.items():
            setattr(row, name, value)
    return bool(moved)


# --- calling windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchWindow:
    """The batch's calling window (its own, else the organization's hours on every day) and
    the zone of callees whose zone is unknown (the organization's)."""

    days: tuple[int, ...]
    start: dt.time | None
    end: dt.time | None
    default_zone: zoneinfo.ZoneInfo

    def zone_of(self, row: BatchRow) -> zoneinfo.ZoneInfo:
        """The callee's zone: the row's (mapped or guessed from the number), else the
        organization's."""
        if row.timezone:
            try:
                return zoneinfo.ZoneInfo(row.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass
        return self.default_zone

    def next_opening(self, row: BatchRow, at: dt.datetime) -> dt.datetime | None:
        return next_window_start(
            at, tz=self.zone_of(row), days=self.days, start=self.start, end=self.end
        )


def batch_window(*, batch: Batch, organization: Organization | None = None) -> BatchWindow:
    organization = organization or current_organization()
    own = batch.window_start is not None or batch.window_end is not None
    try:
        default_zone = zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        default_zone = zoneinfo.ZoneInfo("UTC")
    return BatchWindow(
        days=tuple(int(day) for day in batch.window_days or ()),
        start=batch.window_start if own else organization.calling_window_start,
        end=batch.window_end if own else organization.calling_window_end,
        default_zone=default_zone,
    )


# --- a finished call ------------------------------------------------------------------------------


def batch_row_outcome_for_call(call: Call) -> BatchRowOutcome:
    """What a final call came to for its row: answered by a person, a voicemail (the end
    reason, or a machine that answered), no answer, busy, failed or canceled."""
    if call.status == CallStatus.COMPLETED:
        if call.end_reason == EndReason.VOICEMAIL or call.answered_by == "machine":
            return BatchRowOutcome.VOICEMAIL
        return BatchRowOutcome.ANSWERED
    return {
        CallStatus.NO_ANSWER: BatchRowOutcome.NO_ANSWER,
        CallStatus.BUSY: BatchRowOutcome.BUSY,
        CallStatus.CANCELED: BatchRowOutcome.CANCELED,
    }.get(CallStatus(call.status), BatchRowOutcome.FAILED)


def batch_row_call_ended_on_commit(*, call_id: int) -> None:
    """Record what the call came to for its batch row once the current transaction (which
    ended the call) commits, in the schema active now. Called by the call's ``_finalize``.
    A failure here is logged, not raised: the call has ended whatever happens to its row, and
    the dispatcher reconciles rows whose call is final."""
    schema_name = current_schema_name()

    def record() -> None:
        with schema_context(schema_name):
            batch_row_call_ended(call_id=call_id)

    transaction.on_commit(record, robust=True)


def batch_row_call_ended(*, call_id: int) -> BatchRow | None:
    """The call of a batch row has ended: record the outcome on the row, then schedule the
    next attempt (when the outcome is retried and attempts remain) or finish the row; trip the
    circuit breaker or complete the batch when that follows; then, after commit, send the
    progress and let the dispatcher fill the freed slot. Idempotent: a row whose call this is
    not, or that is no longer in progress, is left alone."""
    with transaction.atomic():
        call = Call.objects.filter(pk=call_id).first()
        if call is None or call.batch_row_id is None or call.status not in FINAL_STATUSES:
            return None
        row = BatchRow.objects.select_for_update().filter(pk=call.batch_row_id).first()
        if row is None or row.status != BatchRowStatus.IN_PROGRESS or row.last_call_id != call.pk:
            return row
        batch = Batch.objects.get(pk=row.batch_id)
        outcome = batch_row_outcome_for_call(call)
        to_status, fields = _after_attempt(batch, row, call, outcome)
        batch_row_transition(row=row, to_status=to_status, outcome=outcome, **fields)
        if batch.status == BatchStatus.RUNNING and call.status == CallStatus.FAILED:
            _breaker_check(batch)  # only a failure can push the rate over the threshold
        _complete_if_done(batch.pk)
        _progress_on_commit(batch.pk)
        batch_progress_announce(batch.pk)  # webhooks: at each further tenth done
        _dispatch_on_commit(batch.pk)
    logger.info(
        "batch_row_call_ended", batch_id=row.batch_id, row_id=row.pk, call_id=call_id, **fields
    )
    return row


def _dispatch_on_commit(batch_id: int) -> None:
    """After commit, send the dispatcher to fill the freed slot, unless a run of it is
    claiming for this batch right now: that run reads the free slots again after its own
    commit, which comes after this one, and takes the slot (``calls.locks`` says why). At one
    end per call, this spares a task per call while the dispatcher is busy."""
    schema_name = current_schema_name()

    def wake() -> None:
        with schema_context(schema_name):
            _dispatch_unless_claiming(schema_name, batch_id)

    transaction.on_commit(wake, robust=True)


def _dispatch_unless_claiming(schema_name: str, batch_id: int) -> None:
    """Send the batch's dispatcher, unless a run of it holds its claim lock (that run reads
    the free slots again after its commit)."""
    with transaction.atomic():
        claiming = not batch_dispatch_lock_try(schema_name=schema_name, batch_id=batch_id)
    if not claiming:
        enqueue(BATCH_DISPATCH_TASK, batch_id=batch_id)


def batch_slot_freed_on_commit(*, batch_id: int | None = None) -> None:
    """A call of the organization has reached a final status (called by the call's
    ``_finalize``, for every call: single, inbound or a batch's): once this transaction
    commits, send the dispatcher to the running batches that wait for a slot (the
    organization's limit met, a row due), so the freed slot is taken at once rather than on
    the periodic tick. ``batch_id`` is the ended call's own batch, which its row wakes
    (``batch_row_call_ended``). One query when nothing waits, and no task then."""
    schema_name = current_schema_name()

    def wake() -> None:
        with schema_context(schema_name):
            waiting = batches_waiting_for_slot(exclude_batch_id=batch_id, limit=SLOT_WAKE_LIMIT)
            for waiting_id in waiting:
                _dispatch_unless_claiming(schema_name, waiting_id)
        if waiting:
            logger.info("batch_slot_freed", batch_ids=waiting)

    transaction.on_commit(wake, robust=True)


def _after_attempt(
    batch: Batch, row: BatchRow, call: Call, outcome: BatchRowOutcome
) -> tuple[str, dict[str, Any]]:
    """The row's next status (and fields) after an attempt that came to ``outcome``."""
    error = call.error_message[:500] if outcome == BatchRowOutcome.FAILED else ""
    if outcome == BatchRowOutcome.ANSWERED:
        return BatchRowStatus.COMPLETED, {"error": ""}
    if outcome == BatchRowOutcome.CANCELED:
        return BatchRowStatus.CANCELED, {"error": ""}
    if outcome in (batch.retry_outcomes or []) and row.attempts < batch.max_attempts:
        if batch.status == BatchStatus.CANCELED:
            return BatchRowStatus.CANCELED, {"error": error}
        retry_at = timezone.now() + dt.timedelta(seconds=batch.retry_delay_seconds)
        # Not reconsidered before its window opens (None: no window day ever comes, so the
        # dispatcher looks again at the retry time and finds the same).
        opening = batch_window(batch=batch).next_opening(row, retry_at) or retry_at
        return BatchRowStatus.QUEUED, {"error": error, "next_attempt_at": opening}
    if outcome == BatchRowOutcome.VOICEMAIL:
        return BatchRowStatus.COMPLETED, {"error": ""}
    return BatchRowStatus.FAILED, {"error": error}


def _breaker_check(batch: Batch) -> None:
    """Pause the batch when more than ``breaker_threshold`` of its last ``breaker_window``
    finished attempts (made since it was last started or resumed) failed: a bad agent setup or a
    carrier outage should not burn through the list."""
    window = batch.breaker_window
    if window <= 0:
        return
    since = (
        BatchEvent.objects.filter(batch=batch, name__in=_BREAKER_RESETS)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    recent = Call.objects.filter(batch=batch, status__in=FINAL_STATUSES)
    if since is not None:
        recent = recent.filter(created_at__gte=since)
    # The newest attempts: calls are numbered in the order they were made.
    statuses = list(recent.order_by("-id").values_list("status", flat=True)[:window])
    if len(statuses) < window:
        return
    failed = sum(1 for status in statuses if status == CallStatus.FAILED)
    if failed / window <= batch.breaker_threshold:
        return
    reason = (
        f"Circuit breaker: {failed} of the last {window} attempts failed "
        f"(threshold {batch.breaker_threshold:.0%})."
    )
    paused = Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
        status=BatchStatus.PAUSED, status_reason=reason, updated_at=timezone.now()
    )
    if paused:
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.STATUS,
            name="breaker_tripped",
            payload={"failed": failed, "window": window, "threshold": batch.breaker_threshold},
        )
        logger.warning("batch_breaker_tripped", batch_id=batch.pk, failed=failed, window=window)


def _complete_if_done(batch_id: int) -> bool:
    """A running or paused batch with no row queued or in progress is completed. The counters
    are exact, so this is one conditional UPDATE."""
    now = timezone.now()
    done = Batch.objects.filter(
        pk=batch_id,
        status__in=(BatchStatus.RUNNING, BatchStatus.PAUSED),
        queued_count=0,
        in_progress_count=0,
    ).update(status=BatchStatus.COMPLETED, finished_at=now, updated_at=now)
    if done:
        batch = Batch.objects.get(pk=batch_id)
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.STATUS,
            name="completed",
            payload={field: getattr(batch, field) for field in COUNTER_FIELDS.values()},
        )
        batch_completed_announce(batch)
        scheduled_run_batch_ended(batch=batch)  # the schedule's run that started it, if any
        logger.info("batch_completed", batch_id=batch_id)
    return bool(done)


def _queued_rows_due_now(batch_id: int) -> int:
    """Give the batch's queued rows without a time one (now), so the dispatcher's due-row
    index finds them (it orders by ``next_attempt_at``, where NULLs would sort last)."""
    return BatchRow.objects.filter(
        batch_id=batch_id, status=BatchRowStatus.QUEUED, next_attempt_at__isnull=True
    ).update(next_attempt_at=timezone.now())
