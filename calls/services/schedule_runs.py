"""A scheduled run's attempts: what an attempt came to for the run (done, or another attempt
per the schedule's retry policy), the hook a call's end calls (``_finalize`` in
calls.services.timeline), which records it once the call's transaction commits, and the
repair of runs whose hook was lost (``scheduled_runs_repair``)."""

from __future__ import annotations

import datetime as dt

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from calls.models import (
    FINAL_STATUSES,
    Batch,
    BatchRowOutcome,
    BatchStatus,
    Call,
    ScheduledCall,
    ScheduledRun,
    ScheduledRunStatus,
    ScheduleStatus,
)
from calls.services.batch_rows import batch_row_outcome_for_call
from calls.services.schedule_batch_runs import scheduled_run_batch_ended
from calls.services.schedule_index import schedule_index_lock, schedule_index_sync
from voiceagents.tenancy import current_schema_name

__all__ = [
    "scheduled_run_after_attempt",
    "scheduled_run_call_ended",
    "scheduled_run_call_ended_on_commit",
    "scheduled_run_end",
    "scheduled_runs_repair",
]

logger = structlog.get_logger(__name__)

# A run whose call ended this long ago and is still in progress lost its end-of-call hook
# (the process died between the call's commit and the hook's): the hook itself runs within
# moments of the commit, and the repair leaves it that time rather than contend with it.
REPAIR_AFTER = dt.timedelta(seconds=60)


def scheduled_run_end(
    run: ScheduledRun, status: str, *, reason: str = "", outcome: str = ""
) -> None:
    run.status = status
    run.reason = reason[:500]
    if outcome:
        run.outcome = outcome
    run.next_attempt_at = None
    run.save()


def scheduled_run_after_attempt(
    schedule: ScheduledCall, run: ScheduledRun, outcome: str, *, error: str = ""
) -> None:
    """What an attempt that came to ``outcome`` means for the run: done, or another attempt
    after the schedule's delay (a retried outcome with attempts left, unless canceled)."""
    run.outcome = outcome
    if outcome == BatchRowOutcome.ANSWERED:
        scheduled_run_end(run, ScheduledRunStatus.COMPLETED)
    elif outcome == BatchRowOutcome.CANCELED:
        scheduled_run_end(run, ScheduledRunStatus.CANCELED)
    elif (
        outcome in (schedule.retry_outcomes or [])
        and run.attempts < schedule.max_attempts
        and schedule.status != ScheduleStatus.CANCELED
    ):
        run.status = ScheduledRunStatus.WAITING
        run.next_attempt_at = timezone.now() + dt.timedelta(seconds=schedule.retry_delay_seconds)
        run.reason = error or f"Attempt {run.attempts}: {outcome}; retried."
        run.save()
    elif outcome == BatchRowOutcome.VOICEMAIL:
        scheduled_run_end(run, ScheduledRunStatus.COMPLETED)
    else:
        scheduled_run_end(
            run, ScheduledRunStatus.FAILED, reason=error or f"Attempt {run.attempts}: {outcome}."
        )


# --- a run's call ended ---------------------------------------------------------------------------


def scheduled_run_call_ended_on_commit(*, call_id: int) -> None:
    """Record what the call came to for its scheduled run once the current transaction (which
    ended the call) commits, in the schema active now. Called by the call's ``_finalize``; a
    failure is logged, never raised (the call has ended whatever happens to its run)."""
    schema_name = current_schema_name()

    def record() -> None:
        with schema_context(schema_name):
            scheduled_run_call_ended(call_id=call_id)

    transaction.on_commit(record, robust=True)


def scheduled_run_call_ended(*, call_id: int) -> ScheduledRun | None:
    """The call of a scheduled run has ended: the run records the outcome and is done, or
    waits for its next attempt (the schedule's retry policy), and the index learns when.
    Idempotent: a run whose call this no longer is, or that is not in progress, is left."""
    with transaction.atomic():
        call = Call.objects.filter(pk=call_id).first()
        if call is None or call.schedule_id is None or call.status not in FINAL_STATUSES:
            return None
        schedule_index_lock(schedule_id=call.schedule_id)
        schedule = (
            ScheduledCall.objects.select_for_update(of=("self",))
            .filter(pk=call.schedule_id)
            .first()
        )
        if schedule is None:
            return None
        run = (
            ScheduledRun.objects.select_for_update()
            .filter(schedule=schedule, call_id=call.pk, status=ScheduledRunStatus.IN_PROGRESS)
            .first()
        )
        if run is None:
            return None
        outcome = batch_row_outcome_for_call(call)
        error = call.error_message[:500] if outcome == BatchRowOutcome.FAILED else ""
        scheduled_run_after_attempt(schedule, run, outcome, error=error)
        schedule_index_sync(schedule)
    logger.info(
        "scheduled_run_call_ended",
        schedule_id=schedule.pk,
        run_id=run.pk,
        call_id=call_id,
        status=run.status,
    )
    return run


# --- lost hooks -----------------------------------------------------------------------------------


def scheduled_runs_repair(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Finish what a lost hook left, in the active organization (the stale-calls sweep runs
    this for each): runs ``in_progress`` whose call is final get its outcome (a retry or the
    end) through ``scheduled_run_call_ended``, the hook's own function under the hook's own
    locks, so a hook that runs late as well changes nothing; ``started`` runs whose batch
    completed or was canceled are finished from its counters. Returns how many were repaired."""
    cutoff = (now or timezone.now()) - REPAIR_AFTER
    call_ids = list(
        ScheduledRun.objects.filter(
            # a final call has its end time; its last change stands in should one lack it
            Q(call__ended_at__lt=cutoff)
            | Q(call__ended_at__isnull=True, call__updated_at__lt=cutoff),
            status=ScheduledRunStatus.IN_PROGRESS,
            call__status__in=FINAL_STATUSES,
        )
        .order_by("call_id")
        .values_list("call_id", flat=True)[:limit]
    )
    repaired = 0
    for call_id in call_ids:
        assert call_id is not None
        try:
            run = scheduled_run_call_ended(call_id=call_id)
        except Exception as exc:  # one run's trouble must not stop the others, or the sweep
            logger.exception("scheduled_run_repair_failed", call_id=call_id, error=repr(exc))
            continue
        if run is not None:
            logger.warning("scheduled_run_repaired", call_id=call_id, run_id=run.pk)
            repaired += 1
    batch_ids = list(
        ScheduledRun.objects.filter(
            status=ScheduledRunStatus.STARTED,
            batch__status__in=(BatchStatus.COMPLETED, BatchStatus.CANCELED),
        ).values_list("batch_id", flat=True)[:limit]
    )
    for batch in Batch.objects.filter(pk__in=batch_ids):
        repaired += scheduled_run_batch_ended(batch=batch)
    return repaired
