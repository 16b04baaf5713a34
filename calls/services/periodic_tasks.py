"""The calls app's periodic tasks in Celery beat's database schedule (django-celery-beat, in
the public schema), where operators see and change them in the admin.

Installed by ``manage.py install_periodic_tasks`` (run by ``scripts/migrate.sh``, so by
``make run`` and every deployment's migration step), not by a data migration: the calls app
migrates in each tenant's schema and the schedule lives once, in ``public``. An entry that
exists is left as it is, so an interval or an ``enabled`` an operator changed survives.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import get_public_schema_name, schema_context

__all__ = ["PERIODIC_TASKS", "PeriodicTaskSpec", "periodic_tasks_install"]


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str  # what the admin lists
    task: str  # the registered Celery task name
    every_seconds: int
    description: str


PERIODIC_TASKS: tuple[PeriodicTaskSpec, ...] = (
    PeriodicTaskSpec(
        name="Batches: dispatch due rows",
        task="calls.batches_dispatch_due",
        every_seconds=10,
        description=(
            "Sends the dispatcher for every running batch of every organization: rows whose "
            "calling window opened or whose retry came due start, rows a crash left behind "
            "are repaired. A call's end fills its slot at once; this is the clock for the rest."
        ),
    ),
    PeriodicTaskSpec(
        name="Schedules: fire due runs",
        task="calls.schedules_dispatch_due",
        every_seconds=5,
        description=(
            "Finds the due schedules of every organization with one indexed query on the public "
            "schedule index (claimed with SKIP LOCKED, so several workers never fire a run "
            "twice), fires their runs (calls through the calls services, batches started), "
            "their retries, and the missed-run policy; advances each schedule's next run."
        ),
    ),
    PeriodicTaskSpec(
        name="Calls: reconcile stale calls",
        task="calls.stale_calls_sweep",
        every_seconds=settings.STALE_CALLS_SWEEP_SECONDS,
        description=(
            "Calls left queued, ringing or in progress past their thresholds (settings "
            "STALE_CALL_*) in every organization: the carrier is asked for the real status, and "
            "a call it cannot vouch for ends as failed with error code stale_call, on its "
            "timeline. Frees the concurrency slots such calls hold."
        ),
    ),
)


def periodic_tasks_install() -> list[str]:
    """Create the entries of ``PERIODIC_TASKS`` that do not exist yet; returns their names."""
    created: list[str] = []
    with schema_context(get_public_schema_name()), transaction.atomic():
        for spec in PERIODIC_TASKS:
            if PeriodicTask.objects.filter(name=spec.name).exists():
                continue
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(
                name=spec.name,
                task=spec.task,
                interval=interval,
                description=spec.description,
                enabled=True,
            )
            created.append(spec.name)
    return created
