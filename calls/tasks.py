"""Celery tasks of the calls app: thin, take ids, call one service, safe to run twice.
Services send them by name (``voiceagents.queue.enqueue_on_commit``), so this module imports
the services and never the other way round."""

from __future__ import annotations

from celery import shared_task

from calls import services


@shared_task(name="calls.call_place", acks_late=True)
def call_place(call_id: int) -> None:
    """Dial an outbound call. No automatic retries: a carrier error ends the call as failed
    (with the carrier's code), and the service dials at most once however often this runs."""
    services.call_place(call_id=call_id)
