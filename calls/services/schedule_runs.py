"""A scheduled run's attempts: what an attempt came to for the run (done, or another attempt
per the schedule's retry policy), and the hook a call's end calls (``_finalize`` in
calls.services.timeline), which records it once the call's transaction commits."""

from __future__ import annotations

import datetime as dt

import structlog
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from calls.models import (
    FINAL_STATUSES,
    BatchRowOutcome,
    Call,
    ScheduledCall,
    ScheduledRun,
    ScheduledRunStatus,
    ScheduleStatus,
)
from calls.services.batch_rows import batch_row_outcome_for_call
from calls.services.schedule_index import schedule_index_lock, schedule_index_sync
from voiceagents.tenancy import current_schema_name

__all__ = [
    "scheduled_run_after_attempt",
    "scheduled_run_call_ended",
    "scheduled_run_call_ended_on_commit",
    "scheduled_run_end",
]

logger = structlog.get_logger(__name__)


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
