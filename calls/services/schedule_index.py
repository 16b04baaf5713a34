"""A schedule's next occurrence, and its entry in the public index the dispatcher reads.

The index (``organizations.ScheduleIndexEntry``, public schema) holds, for every schedule of
every organization, when the dispatcher must next look at it: the schedule's next occurrence
while it is active, or an earlier retry of one of its runs. It is written here, in the
caller's transaction: django-tenants' search path of a tenant schema includes ``public``, so
the tenant row and the index entry are written on one connection in one transaction, and
commit or roll back together.

Lock order, the same everywhere so nothing deadlocks: the index entry, then the schedule,
then its runs. The dispatcher claims entries with ``SKIP LOCKED`` and only then locks the
schedule; every other writer (the API, a call's end) locks the entry first
(``schedule_index_lock``), so it waits for a dispatcher holding it, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import connection
from django.db.models import Min

from calls.models import ScheduledCall, ScheduledRun, ScheduledRunStatus, ScheduleStatus
from calls.selectors import current_organization
from calls.services.schedule_times import cron_occurrences
from organizations.models import ScheduleIndexEntry
from voiceagents.tenancy import current_schema_name

# schedule_index_sync's default: the retry time is read from the runs.
_READ: Any = object()

__all__ = [
    "schedule_index_lock",
    "schedule_index_sync",
    "schedule_next_occurrence",
    "schedule_index_write_many",
    "schedule_retry_at",
    "schedule_wake_at",
    "schedule_zone",
]


def schedule_zone(schedule: ScheduledCall) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(schedule.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # checked when saved; never here
        return zoneinfo.ZoneInfo("UTC")


def schedule_next_occurrence(schedule: ScheduledCall, *, after: dt.datetime) -> dt.datetime | None:
    """The schedule's first occurrence strictly after ``after``, within its dates and
    ``max_runs`` (None: no run is left). A one-time schedule has its one time, until it ran."""
    if schedule.max_runs is not None and schedule.run_count >= schedule.max_runs:
        return None
    if not schedule.cron_expression:
        at = schedule.scheduled_time
        return at if at is not None and schedule.run_count == 0 and at > after else None
    return next(
        cron_occurrences(
            schedule.cron_expression,
            tz=schedule_zone(schedule),
            after=after,
            start_date=schedule.start_date,
            end_date=schedule.end_date,
        ),
        None,
    )


def schedule_index_lock(*, schedule_id: int) -> None:
    """Lock the schedule's index entry (when it has one) until the transaction ends: the
    first lock of every writer but the dispatcher (see the module docstring)."""
    list(
        ScheduleIndexEntry.objects.select_for_update()
        .filter(organization_id=current_organization().pk, schedule_id=schedule_id)
        .values_list("pk", flat=True)
    )


def schedule_retry_at(schedule_id: int) -> dt.datetime | None:
    """The earliest next attempt of the schedule's waiting runs."""
    at: dt.datetime | None = ScheduledRun.objects.filter(
        schedule_id=schedule_id, status=ScheduledRunStatus.WAITING
    ).aggregate(at=Min("next_attempt_at"))["at"]
    return at


def schedule_wake_at(schedule: ScheduledCall, retry_at: dt.datetime | None) -> dt.datetime | None:
    """When the dispatcher must next look at the schedule: its next occurrence while active,
    or the earliest retry of its waiting runs (not while paused or canceled)."""
    candidates: list[dt.datetime] = []
    if schedule.status == ScheduleStatus.ACTIVE and schedule.next_run_at is not None:
        candidates.append(schedule.next_run_at)
    if schedule.status in (ScheduleStatus.ACTIVE, ScheduleStatus.COMPLETED) and retry_at:
        candidates.append(retry_at)
    return min(candidates) if candidates else None


def schedule_index_sync(schedule: ScheduledCall, *, retry_at: Any = _READ) -> None:
    """Write the schedule's wake-up time to the public index, in the caller's transaction.
    ``retry_at``: the earliest next attempt of its waiting runs when the caller knows it (the
    dispatcher, which holds the schedule's runs; read here otherwise)."""
    organization = current_organization()
    if retry_at is _READ:
        retry_at = (
            schedule_retry_at(schedule.pk)
            if schedule.status in (ScheduleStatus.ACTIVE, ScheduleStatus.COMPLETED)
            else None
        )
    wake = schedule_wake_at(schedule, retry_at)
    updated = ScheduleIndexEntry.objects.filter(
        organization_id=organization.pk, schedule_id=schedule.pk
    ).update(next_run_at=wake, active=wake is not None)
    if not updated:
        # The schedule row is locked by the caller: no one else inserts this entry meanwhile.
        ScheduleIndexEntry.objects.create(
            organization_id=organization.pk,
            schema_name=current_schema_name(),
            schedule_id=schedule.pk,
            next_run_at=wake,
            active=wake is not None,
        )


def schedule_index_write_many(wakes: dict[int, dt.datetime | None]) -> None:
    """Write the wake-up times of many index entries (by entry id) in one statement, in the
    caller's transaction: the dispatcher's, which holds the entries it claimed and writes
    them once it has processed them (``schedule_index_sync`` writes one)."""
    if not wakes:
        return
    table = connection.ops.quote_name(ScheduleIndexEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET next_run_at = v.at, active = v.at IS NOT NULL"
            f" FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE e.id = v.id",
            [list(wakes), list(wakes.values())],
        )
