"""Helpers for the schedule tests: the tick run as beat runs it (from the public schema) at a
moment the test chooses (the dispatcher's clock is a parameter), and reads of a schedule's
runs and its public index entry.

The dispatch tests commit for real (``committed_db`` through the batch tests' ``dialer``):
the run's call is dialed at the tick's commit (eager Celery) against the Twilio fake, and a
call's end reaches its run after the webhook's commit, as in production.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from calls import services
from calls.models import ScheduledCall, ScheduledRun
from organizations.models import ScheduleIndexEntry
from tests.calls.telephony_support import CALLER


def once_data(agent, *, at: str | dt.datetime, **fields: Any) -> dict[str, Any]:
    return {"agent_id": agent.pk, "phone_number": CALLER, "scheduled_time": at, **fields}


def cron_data(agent, expression: str, **fields: Any) -> dict[str, Any]:
    return {"agent_id": agent.pk, "phone_number": CALLER, "cron_expression": expression, **fields}


def index_entry(schedule: ScheduledCall) -> ScheduleIndexEntry | None:
    return ScheduleIndexEntry.objects.filter(
        schema_name=connection.schema_name, schedule_id=schedule.pk
    ).first()


def tick(at: dt.datetime | None = None, **kwargs: Any) -> int:
    """One beat tick, from the public schema, at the moment ``at`` (now by default): the
    clock a test moves on. The caller's schema is back afterwards."""
    tenant = connection.tenant
    try:
        with schema_context("public"):
            return services.schedules_dispatch_due(now=at, **kwargs)
    finally:
        connection.set_tenant(tenant)


def after(moment: dt.datetime | None, seconds: float = 1) -> dt.datetime:
    """``seconds`` after ``moment`` (a schedule's next run, a retry's time)."""
    assert moment is not None
    return moment + dt.timedelta(seconds=seconds)


def runs(schedule: ScheduledCall) -> list[ScheduledRun]:
    return list(ScheduledRun.objects.filter(schedule=schedule).order_by("due_at", "id"))


def fresh(schedule: ScheduledCall) -> ScheduledCall:
    return ScheduledCall.objects.get(pk=schedule.pk)


__all__ = ["after", "cron_data", "fresh", "index_entry", "once_data", "runs", "tick"]
