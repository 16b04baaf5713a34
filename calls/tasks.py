"""Celery tasks of the calls app: thin, take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import connection, transaction


def enqueue_on_commit(task: Task, /, **kwargs: object) -> None:
    """Send ``task(**kwargs)`` once the current transaction commits, in the tenant schema that
    is active *now*.

    tenant-schemas-celery reads the schema when the task is sent. An on_commit callback runs
    when the outermost transaction commits, which may be after the code that activated the
    tenant has already left it (a webhook's ``tenant_activated`` block inside an outer
    transaction, a test's captured callbacks, eager mode), and the task would then run in the
    public schema. Capturing the schema here and passing it as the header the library honours
    fixes that once for every task sent from this app.
    """
    schema_name = connection.schema_name
    transaction.on_commit(
        lambda: task.apply_async(kwargs=kwargs, headers={"_schema_name": schema_name})
    )


@shared_task(name="calls.call_place", acks_late=True)
def call_place(call_id: int) -> None:
    """Dial an outbound call. No automatic retries: a carrier error ends the call as failed
    (with the carrier's code), and the service dials at most once however often this runs."""
    from calls.services import call_place as place

    place(call_id=call_id)
