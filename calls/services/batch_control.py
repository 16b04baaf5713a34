"""Controlling a batch: start, pause, resume, cancel, retry its failed rows. Each is atomic
on the locked batch, puts an entry on the batch's timeline with who did it, and after commit
sends the progress and (when there is dialing to do) the dispatcher by name.

Pausing and canceling never touch a call in flight: it finishes, its row records the
outcome, and nothing new starts. Cancel marks every queued row canceled; a row whose call is
still running when the batch is canceled gets its outcome and is not retried.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from calls.exceptions import AgentUnavailable, BatchStatusConflict
from calls.models import Batch, BatchEvent, BatchRow, BatchRowStatus, BatchStatus
from calls.selectors import agent_is_available
from calls.services.batch_rows import (
    BATCH_DISPATCH_TASK,
    _complete_if_done,
    _progress_on_commit,
    _queued_rows_due_now,
    batch_event_record,
    batch_rows_transition,
)
from calls.services.schedule_batch_runs import scheduled_run_batch_ended
from organizations.models import User
from voiceagents.queue import enqueue_on_commit

__all__ = ["batch_cancel", "batch_pause", "batch_resume", "batch_retry_failed", "batch_start"]

logger = structlog.get_logger(__name__)


def _locked(batch: Batch, *, action: str, allowed: Collection[str]) -> Batch:
    """The batch, locked for the change, when its status allows ``action``."""
    locked = Batch.objects.select_for_update(of=("self",)).select_related("agent").get(pk=batch.pk)
    if locked.status not in allowed:
        raise BatchStatusConflict(
            f"A {locked.status} batch cannot be {_PAST[action]}.",
            details={"action": action, "status": locked.status, "allowed": sorted(allowed)},
        )
    return locked


_PAST = {
    "start": "started",
    "pause": "paused",
    "resume": "resumed",
    "cancel": "canceled",
    "retry_failed": "given another round (retry-failed)",
}


def _set_status(batch: Batch, status: str, **fields: Any) -> None:
    batch.status = status
    for name, value in fields.items():
        setattr(batch, name, value)
    batch.save(update_fields=["status", *fields, "updated_at"])


def _dispatch_on_commit(batch: Batch) -> None:
    _progress_on_commit(batch.pk, force=True)
    enqueue_on_commit(BATCH_DISPATCH_TASK, batch_id=batch.pk)


def batch_start(*, batch: Batch, actor: User | None = None) -> Batch:
    """Start dialing a draft batch. Its agent must be able to take calls."""
    with transaction.atomic():
        batch = _locked(batch, action="start", allowed=[BatchStatus.DRAFT])
        if not agent_is_available(batch.agent):
            raise AgentUnavailable(details={"agent_id": batch.agent_id})
        _set_status(
            batch,
            BatchStatus.RUNNING,
            started_at=timezone.now(),
            status_reason="",
            next_dial_at=None,
        )
        _queued_rows_due_now(batch.pk)
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ACTION,
            name="started",
            payload={"queued": batch.queued_count, "total": batch.total_count},
            actor=actor,
        )
        _complete_if_done(batch.pk)  # nothing to dial (every row invalid or skipped)
        _dispatch_on_commit(batch)
    logger.info("batch_started", batch_id=batch.pk)
    return Batch.objects.get(pk=batch.pk)


def batch_pause(*, batch: Batch, reason: str = "", actor: User | None = None) -> Batch:
    """Stop starting calls; calls in flight finish and their rows record their outcome."""
    with transaction.atomic():
        batch = _locked(batch, action="pause", allowed=[BatchStatus.RUNNING])
        _set_status(batch, BatchStatus.PAUSED, status_reason=reason[:500] or "Paused.")
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ACTION,
            name="paused",
            payload={"reason": reason},
            actor=actor,
        )
        _progress_on_commit(batch.pk, force=True)
    logger.info("batch_paused", batch_id=batch.pk, reason=reason)
    return Batch.objects.get(pk=batch.pk)


def batch_resume(*, batch: Batch, actor: User | None = None) -> Batch:
    """Dial again a paused batch (paused by hand or by the circuit breaker, whose count
    starts afresh). Its agent must be able to take calls."""
    with transaction.atomic():
        batch = _locked(batch, action="resume", allowed=[BatchStatus.PAUSED])
        if not agent_is_available(batch.agent):
            raise AgentUnavailable(details={"agent_id": batch.agent_id})
        previous_reason = batch.status_reason
        _set_status(batch, BatchStatus.RUNNING, status_reason="", next_dial_at=None)
        _queued_rows_due_now(batch.pk)
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ACTION,
            name="resumed",
            payload={"paused_because": previous_reason},
            actor=actor,
        )
        _dispatch_on_commit(batch)
    logger.info("batch_resumed", batch_id=batch.pk)
    return Batch.objects.get(pk=batch.pk)


def batch_cancel(*, batch: Batch, reason: str = "", actor: User | None = None) -> Batch:
    """Stop the batch for good: its queued rows are canceled (counted exactly), calls in
    flight finish, nothing new starts."""
    with transaction.atomic():
        batch = _locked(
            batch,
            action="cancel",
            allowed=[BatchStatus.DRAFT, BatchStatus.RUNNING, BatchStatus.PAUSED],
        )
        _set_status(
            batch,
            BatchStatus.CANCELED,
            status_reason=reason[:500] or "Canceled.",
            finished_at=timezone.now(),
        )
        canceled = batch_rows_transition(
            batch_id=batch.pk,
            rows=BatchRow.objects.all(),
            from_status=BatchRowStatus.QUEUED,
            to_status=BatchRowStatus.CANCELED,
        )
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ACTION,
            name="canceled",
            payload={"reason": reason, "rows_canceled": canceled},
            actor=actor,
        )
        # The schedule's run that started this batch, if any, ends now with the counters as
        # the cancel left them (read again: the transition moved them with F()).
        scheduled_run_batch_ended(batch=Batch.objects.get(pk=batch.pk))
        _progress_on_commit(batch.pk, force=True)
    logger.info("batch_canceled", batch_id=batch.pk, rows_canceled=canceled)
    return Batch.objects.get(pk=batch.pk)


def batch_retry_failed(*, batch: Batch, actor: User | None = None) -> Batch:
    """Give every failed row another round (``max_attempts`` afresh). A completed batch runs
    again; a paused one dials them once resumed."""
    with transaction.atomic():
        batch = _locked(
            batch,
            action="retry_failed",
            allowed=[BatchStatus.RUNNING, BatchStatus.PAUSED, BatchStatus.COMPLETED],
        )
        retried = batch_rows_transition(
            batch_id=batch.pk,
            rows=BatchRow.objects.all(),
            from_status=BatchRowStatus.FAILED,
            to_status=BatchRowStatus.QUEUED,
            attempts=0,
            error="",
            next_attempt_at=timezone.now(),
        )
        if retried and batch.status == BatchStatus.COMPLETED:
            _set_status(batch, BatchStatus.RUNNING, finished_at=None, status_reason="")
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ACTION,
            name="failed_rows_retried",
            payload={"rows": retried},
            actor=actor,
        )
        _dispatch_on_commit(batch)
    logger.info("batch_failed_rows_retried", batch_id=batch.pk, rows=retried)
    return Batch.objects.get(pk=batch.pk)
