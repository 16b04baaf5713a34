"""Celery tasks of the calls app: thin, take ids, call one service, safe to run twice.
Services send them by name (``voiceagents.queue.enqueue_on_commit``), so this module imports
the services and never the other way round."""

from __future__ import annotations

import structlog
from celery import shared_task

from calls import services
from organizations.models import Organization
from voiceagents.tenancy import for_each_tenant

logger = structlog.get_logger(__name__)


@shared_task(name="calls.call_place", acks_late=True)
def call_place(call_id: int) -> None:
    """Dial an outbound call. No automatic retries: a carrier error ends the call as failed
    (with the carrier's code), and the service dials at most once however often this runs."""
    services.call_place(call_id=call_id)


@shared_task(name="calls.stale_calls_sweep", acks_late=True, ignore_result=True)
def stale_calls_sweep() -> int:
    """Reconcile every organization's stale calls (Celery beat, every
    ``STALE_CALLS_SWEEP_SECONDS``); returns how many were ended. Keeps no state and may run on
    several workers at once (the service locks each call with SKIP LOCKED). One
    organization's failure is logged and the others are still swept."""

    def sweep(organization: Organization) -> int:
        try:
            outcomes = services.call_stale_reconcile()
        except Exception:
            logger.exception("stale_calls_sweep_failed", organization=organization.schema_name)
            return 0
        return sum(1 for outcome in outcomes if outcome.outcome != "live")

    return sum(for_each_tenant(sweep))


@shared_task(name="calls.batch_dispatch", acks_late=True)
def batch_dispatch(batch_id: int, repair: bool = False) -> None:
    """Start calls for a batch's due rows. Sent by the control actions, by every batch call
    that ends and by the tick (``repair``: finish first what a crash left behind); any number
    may run at once (one claims, the others leave), and one that dies half-way leaves nothing
    a later run cannot finish."""
    services.batch_dispatch(batch_id=batch_id, repair=repair)


@shared_task(name="calls.batches_dispatch_due", acks_late=True)
def batches_dispatch_due() -> None:
    """The periodic tick (Celery beat, from the public schema): sends ``calls.batch_dispatch``
    for every running batch of every organization, so rows whose window opened or whose retry
    came due start, and rows whose outcome was lost are repaired."""
    services.batches_dispatch_due()


@shared_task(name="calls.schedules_dispatch_due", acks_late=True, ignore_result=True)
def schedules_dispatch_due() -> int:
    """The schedules' tick (Celery beat, from the public schema, every few seconds): claims
    the due entries of the public schedule index (one indexed query, SKIP LOCKED) and fires
    their runs; any number may run at once, and each run fires once."""
    return services.schedules_dispatch_due()


@shared_task(name="calls.scheduled_calls_place", acks_late=True, ignore_result=True)
def scheduled_calls_place(call_ids: list[int]) -> int:
    """Dial a few of the calls one claim of the schedules' tick started in an organization
    (one task for several, not one each); run twice or after a crash, it dials only those not
    dialed yet."""
    return services.scheduled_calls_place(call_ids=call_ids)


@shared_task(name="calls.call_analyze", acks_late=True, ignore_result=True)
def call_analyze(call_id: int) -> None:
    """Post-call analysis of a completed call, then its call.ended webhook (sent from
    ``calls.services.webhook_events.call_ended_announce``). No automatic retries: a model
    that fails is recorded as the analysis error and the event goes without it."""
    services.call_analyze(call_id=call_id)
