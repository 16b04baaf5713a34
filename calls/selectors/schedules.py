"""Reads of schedules: the list, one schedule, its runs."""

from __future__ import annotations

from django.db.models import QuerySet

from calls.exceptions import ScheduleNotFound
from calls.models import ScheduledCall, ScheduledRun
from calls.selectors._common import by_pk

__all__ = ["schedule_get", "schedule_list", "scheduled_run_list"]


def schedule_list() -> QuerySet[ScheduledCall]:
    return ScheduledCall.objects.select_related(
        "agent", "batch", "from_number", "created_by", "last_run"
    )


def schedule_get(*, schedule_id: int | str) -> ScheduledCall:
    """The schedule, or ScheduleNotFound (the same for "missing" and "not yours")."""
    schedule = by_pk(schedule_list(), schedule_id).first()
    if schedule is None:
        raise ScheduleNotFound()
    return schedule


def scheduled_run_list(*, schedule: ScheduledCall) -> QuerySet[ScheduledRun]:
    """The schedule's runs, newest occurrence first."""
    return ScheduledRun.objects.filter(schedule=schedule).select_related("call", "batch")
