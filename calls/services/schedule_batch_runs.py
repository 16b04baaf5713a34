"""A schedule's batch run ends with its batch: when the batch (a one-time schedule's own, or a
recurring run's copy) completes or is canceled, the run that started it is finished with an
outcome read from the batch's counters.

Called from the batch's completion (``_complete_if_done`` in calls.services.batch_rows, in
the transaction that completes it) and from the runs' repair (calls.services.schedule_runs),
which also finds the runs of canceled batches. It takes no lock beyond the run's row: a
``started`` run is no open run (the index never wakes for it, the dispatcher never touches it
again), so locking that row and checking its status again finishes it exactly once, whoever
gets there first, and cannot deadlock with the batch's own locks.
"""

from __future__ import annotations

import structlog
from django.db import transaction

from calls.models import Batch, BatchRowOutcome, BatchStatus, ScheduledRun, ScheduledRunStatus
from calls.models.batches import COUNTER_FIELDS

__all__ = ["scheduled_run_batch_ended"]

logger = structlog.get_logger(__name__)


def scheduled_run_batch_ended(*, batch: Batch) -> int:
    """Finish the ``started`` run of ``batch``, now completed or canceled (any other status:
    nothing to do). Returns how many runs were finished (0 or 1)."""
    if batch.status not in (BatchStatus.COMPLETED, BatchStatus.CANCELED):
        return 0
    counters = {status: getattr(batch, field) for status, field in COUNTER_FIELDS.items()}
    outcome: str
    counts = ", ".join(f"{counters[status]} {status}" for status in COUNTER_FIELDS)
    if batch.status == BatchStatus.CANCELED:
        status, outcome = ScheduledRunStatus.CANCELED, BatchRowOutcome.CANCELED
        reason = f"Batch canceled: {counts}."
    elif batch.completed_count:
        status, outcome = ScheduledRunStatus.COMPLETED, BatchRowOutcome.ANSWERED
        reason = f"Batch completed: {counts}."
    elif batch.failed_count:
        status, outcome = ScheduledRunStatus.FAILED, BatchRowOutcome.FAILED
        reason = f"Batch completed, no call got through: {counts}."
    else:
        status, outcome = ScheduledRunStatus.SKIPPED, ""
        reason = f"Batch completed with no row to dial: {counts}."
    done = 0
    with transaction.atomic():
        started = ScheduledRun.objects.select_for_update().filter(
            batch_id=batch.pk, status=ScheduledRunStatus.STARTED
        )
        for run in started:
            run.status, run.outcome, run.reason = status, outcome, reason[:500]
            run.details = {**run.details, "batch_counters": counters}  # a missed run's stay
            run.save(update_fields=["status", "outcome", "reason", "details", "updated_at"])
            logger.info("scheduled_run_batch_ended", run_id=run.pk, batch_id=batch.pk)
            done += 1
    return done
