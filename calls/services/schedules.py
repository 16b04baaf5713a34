"""Schedules: a call (or a batch) once at a time, ``schedule_call``, or on a cron expression,
``schedule_recurring``; changing one, pausing, resuming, canceling it, a run now, and the
preview of an unsaved expression (its next runs and its plain-language reading).

Every write locks the schedule's index entry, then the schedule (``schedule_index`` says
why), and writes the schedule's next time to the public index in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from agents.exceptions import AgentNotFound
from agents.models import Agent
from calls.exceptions import AgentUnavailable, ScheduleStatusConflict
from calls.models import (
    Batch,
    BatchStatus,
    MissedRunPolicy,
    ScheduledCall,
    ScheduledRun,
    ScheduledRunStatus,
    ScheduleStatus,
)
from calls.numbers import e164
from calls.selectors import agent_is_available, batch_get, caller_number_get, current_organization
from calls.services.batches import batch_settings_clean
from calls.services.schedule_dispatch import schedule_fire_now
from calls.services.schedule_index import (
    schedule_index_lock,
    schedule_index_sync,
    schedule_next_occurrence,
    schedule_zone,
)
from calls.services.schedule_times import (
    cron_clean,
    cron_describe,
    cron_occurrences,
    scheduled_time_parse,
    timezone_clean,
)
from organizations.models import ScheduleIndexEntry, User
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "SCHEDULE_SETTINGS_FIELDS",
    "SchedulePreview",
    "schedule_call",
    "schedule_cancel",
    "schedule_next_runs",
    "schedule_pause",
    "schedule_preview",
    "schedule_recurring",
    "schedule_resume",
    "schedule_run_now",
    "schedule_update",
]

logger = structlog.get_logger(__name__)

MAX_GRACE_SECONDS = 7 * 24 * 3600
MAX_RUNS = 1_000_000
MAX_NEXT_RUNS = 50
# What a schedule may be told besides its target and its times.
SCHEDULE_SETTINGS_FIELDS = (
    "name",
    "variables",
    "from_number",
    "start_date",
    "end_date",
    "max_runs",
    "missed_policy",
    "missed_grace_seconds",
    "retry_outcomes",
    "max_attempts",
    "retry_delay_seconds",
)
_RETRY_FIELDS = ("retry_outcomes", "max_attempts", "retry_delay_seconds")
_UPDATABLE = (
    *SCHEDULE_SETTINGS_FIELDS,
    "phone_number",
    "scheduled_time",
    "cron_expression",
    "timezone",
)


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field: [message]}})


# --- checking the input ---------------------------------------------------------------------------


def _agent(agent_id: Any) -> Agent:
    try:
        pk = int(agent_id)
    except (TypeError, ValueError):
        raise AgentNotFound() from None
    agent = Agent.objects.alive().filter(pk=pk).first()
    if agent is None:
        raise AgentNotFound()
    return agent


def _date(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _field_error(field, "Give a date as YYYY-MM-DD.")


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _field_error(field, f"Give a whole number from {low} to {high}.")
    try:
        number = int(value)
    except ValueError:
        raise _field_error(field, f"Give a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise _field_error(field, f"Give a whole number from {low} to {high}.")
    return number


def _settings_clean(
    data: Mapping[str, Any], *, agent: Agent, batch: Batch | None
) -> dict[str, Any]:
    """The settings in ``data`` (any of SCHEDULE_SETTINGS_FIELDS) as stored."""
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = str(data["name"] or "").strip()[:200]
    if "variables" in data:
        variables = data["variables"]
        if variables is None:
            variables = {}
        if not isinstance(variables, Mapping):
            raise _field_error("variables", "Give an object of names and values.")
        values["variables"] = dict(variables)
    if "from_number" in data:
        if batch is not None and data["from_number"]:
            raise _field_error("from_number", "A batch dials from its own from_number.")
        values["from_number"] = (
            caller_number_get(agent=agent, from_phone=data["from_number"], field="from_number")
            if data["from_number"]
            else None
        )
    for name in ("start_date", "end_date"):
        if name in data:
            values[name] = _date(data[name], name)
    if "max_runs" in data:
        values["max_runs"] = (
            None
            if data["max_runs"] in (None, "")
            else _whole(data["max_runs"], "max_runs", 1, MAX_RUNS)
        )
    if "missed_policy" in data:
        if data["missed_policy"] not in MissedRunPolicy.values:
            raise _field_error(
                "missed_policy", f"Choose one of {', '.join(MissedRunPolicy.values)}."
            )
        values["missed_policy"] = data["missed_policy"]
    if "missed_grace_seconds" in data:
        values["missed_grace_seconds"] = _whole(
            data["missed_grace_seconds"], "missed_grace_seconds", 0, MAX_GRACE_SECONDS
        )
    # The retry settings mean what they mean for a batch row: checked by the same function.
    retry = {name: data[name] for name in _RETRY_FIELDS if name in data}
    if retry:
        values.update(batch_settings_clean(data=retry, organization=current_organization()))
    return values


def _when_clean(
    data: Mapping[str, Any], *, tz: zoneinfo.ZoneInfo, recurring: bool, now: dt.datetime
) -> dict[str, Any]:
    if recurring:
        return {"cron_expression": cron_clean(data.get("cron_expression")), "scheduled_time": None}
    if data.get("scheduled_time") in (None, ""):
        raise _field_error("scheduled_time", "Give the time of the call (YYYY-MM-DD HH:MM:SS).")
    return {
        "scheduled_time": scheduled_time_parse(data["scheduled_time"], tz=tz, now=now),
        "cron_expression": "",
    }


def _target(
    *, agent_id: Any, phone_number: Any, batch_id: Any, recurring: bool
) -> tuple[Agent, str, Batch | None]:
    """(agent, phone number, batch): a number with an agent, or a batch (its own agent)."""
    has_number = phone_number not in (None, "")
    has_batch = batch_id not in (None, "")
    if has_number == has_batch:
        message = "Give either phone_number (with agent_id) or batch_id."
        raise ValidationFailed(
            message, details={"fields": {"phone_number": [message], "batch_id": [message]}}
        )
    if has_batch:
        batch = batch_get(batch_id=batch_id)
        if agent_id not in (None, "") and str(agent_id) != str(batch.agent_id):
            raise _field_error("agent_id", "A batch calls with its own agent; leave agent_id out.")
        if not recurring and batch.status != BatchStatus.DRAFT:
            raise _field_error(
                "batch_id",
                f"A one-time schedule starts a draft batch; this one is {batch.status}.",
            )
        return batch.agent, "", batch
    if agent_id in (None, ""):
        raise _field_error("agent_id", "Give the agent that makes the call.")
    return _agent(agent_id), e164(phone_number, field="phone_number"), None


def _check_runs(schedule: ScheduledCall, now: dt.datetime) -> None:
    if schedule.start_date and schedule.end_date and schedule.end_date < schedule.start_date:
        raise _field_error("end_date", "The end date is before the start date.")
    if schedule.next_run_at is None:
        field = "end_date" if schedule.end_date else "cron_expression"
        raise _field_error(field, "This schedule would never run: no time is left before its end.")


# --- creating -------------------------------------------------------------------------------------


def _create(
    *,
    recurring: bool,
    data: Mapping[str, Any],
    created_by: User | None,
) -> ScheduledCall:
    now = timezone.now()
    organization = current_organization()
    tz = timezone_clean(data.get("timezone") or organization.timezone)
    agent, number, batch = _target(
        agent_id=data.get("agent_id"),
        phone_number=data.get("phone_number"),
        batch_id=data.get("batch_id"),
        recurring=recurring,
    )
    if not agent_is_available(agent):
        raise AgentUnavailable(details={"agent_id": agent.pk})
    values = _settings_clean(
        {name: data[name] for name in SCHEDULE_SETTINGS_FIELDS if name in data},
        agent=agent,
        batch=batch,
    )
    if batch is None and values.get("from_number") is None:
        # The caller id as for a batch: resolved now, so a schedule that could never dial is
        # refused at once (NoCallerId), and kept, so every run dials from the same number.
        values["from_number"] = caller_number_get(agent=agent, from_phone=None, field="from_number")
    values.update(_when_clean(data, tz=tz, recurring=recurring, now=now))
    with transaction.atomic():
        schedule = ScheduledCall(
            agent=agent,
            phone_number=number,
            batch=batch,
            timezone=tz.key,
            created_by=created_by,
            **values,
        )
        schedule.next_run_at = schedule_next_occurrence(schedule, after=now)
        _check_runs(schedule, now)
        schedule.save()
        schedule_index_sync(schedule)
    logger.info(
        "schedule_created",
        schedule_id=schedule.pk,
        recurring=recurring,
        next_run_at=schedule.next_run_at.isoformat() if schedule.next_run_at else None,
    )
    return schedule


def schedule_call(*, data: Mapping[str, Any], created_by: User | None = None) -> ScheduledCall:
    """A one-time schedule: ``agent_id`` and ``phone_number`` (or ``batch_id``, a draft batch
    it starts) at ``scheduled_time``, read in ``timezone`` (the organization's by default)
    when it has no UTC offset. A time in the past is refused (400 schedule_time_in_past)."""
    return _create(recurring=False, data=data, created_by=created_by)


def schedule_recurring(*, data: Mapping[str, Any], created_by: User | None = None) -> ScheduledCall:
    """A recurring schedule: ``cron_expression`` (5 fields) in ``timezone``, from
    ``start_date`` to ``end_date``, at most ``max_runs`` times; a ``batch_id`` target runs a
    copy of the batch's list each time."""
    return _create(recurring=True, data=data, created_by=created_by)


# --- changing -------------------------------------------------------------------------------------


def _locked(schedule: ScheduledCall, *, action: str, allowed: tuple[str, ...]) -> ScheduledCall:
    schedule_index_lock(schedule_id=schedule.pk)
    locked = (
        ScheduledCall.objects.select_for_update(of=("self",))
        .select_related("agent", "batch", "from_number")
        .get(pk=schedule.pk)
    )
    if locked.status not in allowed:
        raise ScheduleStatusConflict(
            f"A {locked.status} schedule cannot be {action}.",
            details={"action": action, "status": locked.status, "allowed": list(allowed)},
        )
    return locked


_OPEN = (ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED)


def schedule_update(*, schedule: ScheduledCall, data: Mapping[str, Any]) -> ScheduledCall:
    """Change an active or paused schedule: its settings, its number, its time or cron
    expression (a one-time schedule stays one-time), its time zone. Its next run is computed
    again from now when a time field changed."""
    unknown = sorted(set(data) - set(_UPDATABLE))
    if unknown:
        raise ValidationFailed.for_fields(
            {name: ["This field cannot be changed."] for name in unknown}
        )
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(schedule, action="changed", allowed=_OPEN)
        values = _settings_clean(
            {name: data[name] for name in SCHEDULE_SETTINGS_FIELDS if name in data},
            agent=locked.agent,
            batch=locked.batch,
        )
        if "phone_number" in data:
            if locked.batch_id is not None:
                raise _field_error("phone_number", "This schedule runs a batch.")
            values["phone_number"] = e164(data["phone_number"], field="phone_number")
        tz = schedule_zone(locked)
        if "timezone" in data:
            tz = timezone_clean(data["timezone"])
            values["timezone"] = tz.key
        timing = {
            "scheduled_time",
            "cron_expression",
            "timezone",
            "start_date",
            "end_date",
            "max_runs",
        }
        if locked.cron_expression and "scheduled_time" in data:
            raise _field_error(
                "scheduled_time", "This schedule is recurring: change cron_expression."
            )
        if not locked.cron_expression and "cron_expression" in data:
            raise _field_error(
                "cron_expression", "This schedule is one-time: change scheduled_time."
            )
        if "cron_expression" in data:
            values["cron_expression"] = cron_clean(data["cron_expression"])
        if "scheduled_time" in data:
            values["scheduled_time"] = scheduled_time_parse(data["scheduled_time"], tz=tz, now=now)
        # A one-time schedule's stored time is an instant: a new zone alone does not move it.
        for name, value in values.items():
            setattr(locked, name, value)
        if timing & set(data) and locked.status in _OPEN:
            locked.next_run_at = schedule_next_occurrence(locked, after=now)
            _check_runs(locked, now)
            values["next_run_at"] = locked.next_run_at
        locked.save(update_fields=[*values, "updated_at"])
        schedule_index_sync(locked)
    return locked


def schedule_pause(*, schedule: ScheduledCall) -> ScheduledCall:
    """No run fires while paused, retries included; calls in flight finish."""
    with transaction.atomic():
        locked = _locked(schedule, action="paused", allowed=(ScheduleStatus.ACTIVE,))
        locked.status = ScheduleStatus.PAUSED
        locked.status_reason = "Paused."
        locked.save(update_fields=["status", "status_reason", "updated_at"])
        schedule_index_sync(locked)
    return locked


def schedule_resume(*, schedule: ScheduledCall) -> ScheduledCall:
    """Runs fire again. A recurring schedule goes on from its next occurrence after now (the
    times it was paused through do not run); a one-time schedule whose time passed meanwhile
    is a missed run (its policy decides, at the next tick)."""
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(schedule, action="resumed", allowed=(ScheduleStatus.PAUSED,))
        if not agent_is_available(locked.agent):
            raise AgentUnavailable(details={"agent_id": locked.agent_id})
        locked.status = ScheduleStatus.ACTIVE
        locked.status_reason = ""
        if locked.cron_expression:
            locked.next_run_at = schedule_next_occurrence(locked, after=now)
        fields = ["status", "status_reason", "next_run_at", "updated_at"]
        if locked.next_run_at is None:
            locked.status = ScheduleStatus.COMPLETED
            locked.status_reason = "No run is left."
        locked.save(update_fields=fields)
        schedule_index_sync(locked)
    return locked


def schedule_cancel(*, schedule: ScheduledCall) -> ScheduledCall:
    """Stop the schedule for good: nothing runs again, runs waiting for a retry are canceled,
    calls in flight finish (their runs record the outcome, without a retry). The schedule
    and its runs stay, as the calls they made refer to them."""
    with transaction.atomic():
        locked = _locked(
            schedule,
            action="canceled",
            allowed=(ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED, ScheduleStatus.COMPLETED),
        )
        locked.status = ScheduleStatus.CANCELED
        locked.status_reason = "Canceled."
        locked.next_run_at = None
        locked.save(update_fields=["status", "status_reason", "next_run_at", "updated_at"])
        ScheduledRun.objects.filter(schedule=locked, status=ScheduledRunStatus.WAITING).update(
            status=ScheduledRunStatus.CANCELED,
            next_attempt_at=None,
            reason="The schedule was canceled.",
            updated_at=timezone.now(),
        )
        ScheduleIndexEntry.objects.filter(
            organization_id=current_organization().pk, schedule_id=locked.pk
        ).delete()
    return locked


def schedule_run_now(*, schedule: ScheduledCall) -> ScheduledRun:
    """Run the schedule once now (its call, or its batch), outside its times: the next run
    and the count towards ``max_runs`` stay as they are."""
    with transaction.atomic():
        locked = _locked(
            schedule,
            action="run now",
            allowed=(ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED, ScheduleStatus.COMPLETED),
        )
        if locked.batch_id is not None and not locked.cron_expression:
            raise ScheduleStatusConflict(
                "A one-time batch schedule starts its batch once: start the batch instead.",
                details={"action": "run now", "status": locked.status},
            )
        return schedule_fire_now(locked)


# --- reading times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulePreview:
    """An expression's (or a time's) next runs, in UTC and local, and its reading."""

    timezone: str
    description: str
    next_runs: list[dt.datetime]


def schedule_next_runs(*, schedule: ScheduledCall, count: int = 5) -> list[dt.datetime]:
    """The schedule's next ``count`` runs (UTC) from now, within its dates and max_runs;
    none while paused or done."""
    count = max(1, min(count, MAX_NEXT_RUNS))
    if schedule.status != ScheduleStatus.ACTIVE or schedule.next_run_at is None:
        return []
    if not schedule.cron_expression:
        return [schedule.next_run_at]
    left = None if schedule.max_runs is None else schedule.max_runs - schedule.run_count
    runs = [schedule.next_run_at]
    for occurrence in cron_occurrences(
        schedule.cron_expression,
        tz=schedule_zone(schedule),
        after=schedule.next_run_at,
        start_date=schedule.start_date,
        end_date=schedule.end_date,
    ):
        if len(runs) >= count or (left is not None and len(runs) >= left):
            break
        runs.append(occurrence)
    return runs[:count]


def schedule_preview(
    *,
    cron_expression: Any = None,
    scheduled_time: Any = None,
    timezone_name: Any = None,
    start_date: Any = None,
    end_date: Any = None,
    count: int = 5,
) -> SchedulePreview:
    """What an unsaved schedule would do: its next ``count`` runs and, for a cron
    expression, its plain-language reading ("At 09:00, only on Monday"). The same checks,
    and the same 400s, as saving it."""
    now = timezone.now()
    tz = timezone_clean(timezone_name or current_organization().timezone)
    count = max(1, min(int(count), MAX_NEXT_RUNS))
    if cron_expression in (None, "") and scheduled_time in (None, ""):
        message = "Give cron_expression or scheduled_time."
        raise ValidationFailed(
            message,
            details={"fields": {"cron_expression": [message], "scheduled_time": [message]}},
        )
    if cron_expression not in (None, ""):
        expression = cron_clean(cron_expression)
        runs: list[dt.datetime] = []
        for occurrence in cron_occurrences(
            expression,
            tz=tz,
            after=now,
            start_date=_date(start_date, "start_date"),
            end_date=_date(end_date, "end_date"),
        ):
            runs.append(occurrence)
            if len(runs) >= count:
                break
        return SchedulePreview(
            timezone=tz.key, description=cron_describe(expression), next_runs=runs
        )
    at = scheduled_time_parse(scheduled_time, tz=tz, now=now)
    local = at.astimezone(tz)
    return SchedulePreview(
        timezone=tz.key,
        description=f"Once, on {local:%Y-%m-%d} at {local:%H:%M} ({tz.key})",
        next_runs=[at],
    )
