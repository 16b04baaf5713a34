"""Telling the organization's webhooks what happened to its calls, batches and schedules:
one function per moment, called at the one place that moment happens (the timeline, the
batch's rows, the schedule dispatcher). ``integrations.webhook_event_emit`` records the
event for each subscribed endpoint and sends it after commit; nothing is recorded when no
endpoint subscribes.

A completed call's ``call.ended`` waits for its post-call analysis: the analysis task
(``calls.call_analyze``) sends it, with the analysis or with why there is none. Any other end
is announced at once (``call.failed`` for a failed call, ``call.ended`` otherwise).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from calls.models import (
    AnalysisStatus,
    Batch,
    BatchStatus,
    Call,
    CallStatus,
    ScheduledCall,
    ScheduledRun,
)
from calls.selectors.webhook_payloads import (
    batch_webhook_payload,
    call_ended_webhook_payload,
    call_webhook_payload,
    schedule_run_webhook_payload,
)
from integrations.webhook_models import WebhookEventType
from integrations.webhook_selectors import webhook_subscribed
from integrations.webhook_services import webhook_event_emit
from voiceagents.queue import enqueue_on_commit
from voiceagents.tenancy import current_schema_name

__all__ = [
    "CALL_ANALYZE_TASK",
    "batch_completed_announce",
    "batch_progress_announce",
    "call_ended_announce",
    "call_ended_send",
    "call_started_announce",
    "schedule_run_announce",
    "schedule_run_announce_on_commit",
    "schedule_runs_announce",
]

# The Celery task of post-call analysis (calls.tasks), sent by name.
CALL_ANALYZE_TASK = "calls.call_analyze"


def call_started_announce(call: Call) -> None:
    webhook_event_emit(
        WebhookEventType.CALL_STARTED,
        lambda: call_webhook_payload(call),
        dedupe_key=f"call.started:{call.pk}",
    )


def call_ended_send(call: Call) -> None:
    """``call.ended`` (or ``call.failed``) now, once per call."""
    if call.status == CallStatus.FAILED:
        event_type, payload = WebhookEventType.CALL_FAILED, call_webhook_payload
    else:
        event_type, payload = WebhookEventType.CALL_ENDED, call_ended_webhook_payload
    webhook_event_emit(event_type, lambda: payload(call), dedupe_key=f"{event_type}:{call.pk}")


def call_ended_announce(call: Call) -> None:
    """A call has just ended (inside the transaction that ended it): a completed call is
    analysed first (the task sends call.ended), any other is announced now."""
    if call.status == CallStatus.COMPLETED and settings.CALL_ANALYSIS_ENABLED:
        call.analysis_status = AnalysisStatus.PENDING
        call.save(update_fields=["analysis_status", "updated_at"])
        enqueue_on_commit(CALL_ANALYZE_TASK, call_id=call.pk)
        return
    call_ended_send(call)


def batch_progress_announce(batch_id: int) -> None:
    """``batch.progress`` when a running batch's done rows reach a further tenth: at most
    nine events a batch, whatever its size (the dedupe key names the tenth)."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.RUNNING or not batch.total_count:
        return
    done = batch.total_count - batch.queued_count - batch.in_progress_count
    tenth = (10 * done) // batch.total_count
    if 1 <= tenth <= 9:
        webhook_event_emit(
            WebhookEventType.BATCH_PROGRESS,
            lambda: batch_webhook_payload(batch),
            dedupe_key=f"batch.progress:{batch.pk}:{tenth}",
        )


def batch_completed_announce(batch: Batch) -> None:
    webhook_event_emit(
        WebhookEventType.BATCH_COMPLETED,
        lambda: batch_webhook_payload(batch),
        dedupe_key=f"batch.completed:{batch.pk}",
    )


def schedule_run_announce(schedule: ScheduledCall, run: ScheduledRun) -> None:
    webhook_event_emit(
        WebhookEventType.SCHEDULE_RUN,
        lambda: schedule_run_webhook_payload(schedule, run),
        dedupe_key=f"schedule.run:{run.pk}",
    )


def schedule_runs_announce(*, run_ids: list[int]) -> None:
    """``schedule.run`` for each of many runs fired together (a claim of the dispatcher), as
    they are now: asks once whether anyone subscribes, and reads the runs only then."""
    if not run_ids or not webhook_subscribed(WebhookEventType.SCHEDULE_RUN):
        return
    fired = ScheduledRun.objects.select_related("schedule").filter(pk__in=run_ids)
    for run in fired.order_by("pk"):
        schedule_run_announce(run.schedule, run)


def schedule_run_announce_on_commit(*, run_id: int) -> None:
    """``schedule.run`` once the transaction that fires the run commits, with the run as it
    committed (its call placed, its batch started, or why not). After commit, because the
    run's outcome is only known once the firing code, which has several exits, is done."""
    schema = current_schema_name()

    def announce() -> None:
        with schema_context(schema):
            run = ScheduledRun.objects.select_related("schedule").filter(pk=run_id).first()
            if run is not None:
                schedule_run_announce(run.schedule, run)

    transaction.on_commit(announce)
