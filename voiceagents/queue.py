"""Sending Celery tasks from services: by name, after commit, in the tenant schema active now.

Services enqueue tasks by name, so a service module never imports its app's ``tasks`` module
(tasks import the services they call; the graph points one way).

Why the schema is captured here: tenant-schemas-celery reads the schema when the task is
*sent*. An on_commit callback runs when the outermost transaction commits, which may be after
the code that activated the tenant has left it (a webhook's ``tenant_activated`` block inside
an outer transaction, a test's captured callbacks, eager mode), and the task would then run in
the public schema. Naming the schema at scheduling time, in the header the library honours,
keeps the two the same for every task.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.db import transaction

from voiceagents.celery import app
from voiceagents.tenancy import current_schema_name

SCHEMA_HEADER = "_schema_name"


def tenant_headers() -> dict[str, str]:
    """Task headers that make the worker run the task in the schema active now."""
    return {SCHEMA_HEADER: current_schema_name()}


def task_by_name(name: str) -> Task[Any, Any]:
    """The registered task ``name``. Task modules are imported by Celery's autodiscovery,
    which a web process only runs on demand: run it once when the name is not known yet."""
    tasks = app.tasks
    if name not in tasks:
        app.loader.import_default_modules()
    task: Task[Any, Any] = app.tasks[name]
    return task


def enqueue(task_name: str, /, **kwargs: Any) -> None:
    """Send ``task_name(**kwargs)`` now, in the active schema."""
    task_by_name(task_name).apply_async(kwargs=kwargs, headers=tenant_headers())


def enqueue_on_commit(task_name: str, /, **kwargs: Any) -> None:
    """Send ``task_name(**kwargs)`` once the current transaction commits (at once outside
    one), in the schema that is active *now*."""
    headers = tenant_headers()
    transaction.on_commit(
        lambda: task_by_name(task_name).apply_async(kwargs=kwargs, headers=headers)
    )
