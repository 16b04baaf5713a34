"""Celery tasks of the integrations app: thin, take ids, call one service, safe to run twice.
Services send them by name (``voiceagents.queue.enqueue_on_commit``)."""

from __future__ import annotations

from celery import shared_task

from integrations import webhook_services
from voiceagents.queue import tenant_headers


@shared_task(name="integrations.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: int, manual: bool = False) -> None:
    """One attempt of a webhook delivery. When it fails and attempts remain, the service
    says how long to wait (exponential backoff with jitter) and the next attempt is sent
    with that countdown: a new message rather than Celery's ``retry()``, because the service,
    not the task, counts the attempts (a redelivery or a duplicate message must not reset
    them), and the backoff outlives a worker's restart."""
    retry_in = webhook_services.webhook_delivery_attempt(delivery_id=delivery_id, manual=manual)
    if retry_in is not None:
        webhook_deliver.apply_async(
            kwargs={"delivery_id": delivery_id}, countdown=retry_in, headers=tenant_headers()
        )
