"""The schedules' dispatcher: finds the due schedules of every organization with one indexed
query, fires their runs through the calls services, advances them, and records what a run's
call came to (a retry per the schedule's policy, or the end).

- **One query per tick.** Due entries of the public index (``organizations.ScheduleIndexEntry``,
  partial index on ``next_run_at`` of active entries) are claimed with ``SELECT … FOR UPDATE
  SKIP LOCKED … LIMIT``, in the transaction that fires their runs and writes their next time
  back: two dispatchers, on two machines, claim disjoint entries, and a claim that rolls back
  fired nothing (calls are dialed by ``calls.call_place`` after commit). The unique
  ``(schedule, due_at)`` of ScheduledRun is the safety net under it.
- **Fan-out per organization.** The claimed entries are grouped by organization and each
  group runs in its schema (``tenant_context``); each schedule in a savepoint of its own, so
  one schedule's trouble neither rolls back the others nor stops the tick.
- **A run places its call through ``call_initiate``**: the organization's concurrency limit
  (a run that meets it waits and is tried again, never failed for it), the caller id rules and
  the dial-at-most-once path of single calls. The do-not-call list is checked first, at every
  attempt. A batch run starts the batch (``batch_start``), whose window, do-not-call list and
  retries then apply.
- **Missed runs** (found later than ``MISSED_AFTER``, or more than one occurrence due at
  once) make at most one run, for the newest due occurrence: run once now (within the grace
  period, or always) or skipped, per the schedule's policy; recorded with the reason.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from calls.exceptions import ConcurrencyLimitReached
from calls.models import (
    Batch,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    MissedRunPolicy,
    ScheduledCall,
    ScheduledRun,
    ScheduledRunStatus,
    ScheduleStatus,
)
from calls.models.batches import COUNTER_FIELDS
from calls.selectors import dnc_numbers_listed
from calls.services._common import ConcurrencyBudget
from calls.services.batch_control import batch_start
from calls.services.batch_dispatch import DNC_REASON
from calls.services.batches import BATCH_SETTINGS_FIELDS
from calls.services.outbound import CallSetup, call_initiate, call_setup_prepare, calls_place
from calls.services.schedule_batch_runs import scheduled_run_batch_ended
from calls.services.schedule_index import (
    schedule_index_sync,
    schedule_index_write_many,
    schedule_next_occurrence,
    schedule_wake_at,
    schedule_zone,
)
from calls.services.schedule_runs import scheduled_run_after_attempt, scheduled_run_end
from calls.services.schedule_times import cron_occurrences
from calls.services.webhook_events import (
    schedule_run_announce_on_commit,
    schedule_runs_announce,
)
from organizations.models import Organization, ScheduleIndexEntry
from voiceagents.exceptions import ApplicationError
from voiceagents.queue import enqueue, enqueue_on_commit
from voiceagents.tenancy import current_schema_name

__all__ = [
    "SCHEDULED_CALLS_PLACE_TASK",
    "SCHEDULES_DISPATCH_TASK",
    "schedule_fire_now",
    "scheduled_calls_place",
    "schedules_due_query",
    "schedules_dispatch_due",
]

logger = structlog.get_logger(__name__)

# The Celery task of the tick (calls.tasks), sent by name when a tick leaves work behind.
SCHEDULES_DISPATCH_TASK = "calls.schedules_dispatch_due"
# The Celery task that dials the calls a claim started for one organization (calls.tasks).
SCHEDULED_CALLS_PLACE_TASK = "calls.scheduled_calls_place"
# Index entries claimed per transaction.
CLAIM_LIMIT = 200
# Calls one calls.scheduled_calls_place task dials, one after the other. Few enough that the
# carrier's round trips (a few hundred ms each against a real API) of a claim's calls overlap
# across the worker's processes, as separate call_place tasks did; enough to spread a task's
# own cost (its message, a database connection, the tenant's lookup) over several calls.
PLACE_TASK_CALLS = 10
# One tick stops after this long and sends the next, so it never holds a worker for long.
TICK_BUDGET_SECONDS = 20.0
# A run found later than this after its time is a missed run (the tick runs every few
# seconds; this is well beyond its normal lateness).
MISSED_AFTER = dt.timedelta(seconds=60)
# A run that met the organization's concurrency limit is tried again after this long.
SLOT_RETRY = dt.timedelta(seconds=15)
# A schedule whose processing raised is looked at again after this long, not every tick.
ERROR_BACKOFF = dt.timedelta(seconds=60)
# Occurrences counted when many were missed (the count is informative).
_MISSED_COUNT_LIMIT = 1000


# --- the tick -------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    """A claim's schedules of one organization, read with one query each rather than one per
    schedule: the schedules (locked), their due retries (locked), which of their numbers are on
    the do-not-call list; the agent and caller-id setups made once per (agent, number)
    (``call_setup_prepare``). It gathers the calls started, dialed after the claim commits by
    ``calls.scheduled_calls_place`` tasks of ``PLACE_TASK_CALLS`` calls (not one task per
    call), and the runs fired, announced after commit from one read."""

    schedules: dict[int, ScheduledCall]
    retries: dict[int, list[ScheduledRun]]
    dnc_listed: set[str]
    # The earliest next attempt of each schedule's waiting runs not due yet: with the due
    # ones (``retries``) and the run fired now, all its waiting runs, so the index entry is
    # written without reading them again (no one else writes them while the claim holds it).
    later_retries: dict[int, dt.datetime]
    budget: ConcurrencyBudget
    setups: dict[tuple[int, int | None], CallSetup] = field(default_factory=dict)
    call_ids: list[int] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    # Each processed schedule's wake-up time, by index entry: written together at the end.
    wakes: dict[int, dt.datetime | None] = field(default_factory=dict)

    @classmethod
    def load(cls, schedule_ids: list[int], now: dt.datetime) -> _Chunk:
        # Locked in the claim's order after their index entries (the lock order of
        # calls.services.schedule_index): no other writer holds one while we hold its entry.
        schedules = ScheduledCall.objects.select_for_update(of=("self",)).in_bulk(schedule_ids)
        retries: dict[int, list[ScheduledRun]] = defaultdict(list)
        due_retries = ScheduledRun.objects.select_for_update().filter(
            schedule_id__in=schedule_ids,
            status=ScheduledRunStatus.WAITING,
            next_attempt_at__lte=now,
        )
        for run in due_retries:
            retries[run.schedule_id].append(run)
        later_retries = dict(
            ScheduledRun.objects.filter(
                schedule_id__in=schedule_ids,
                status=ScheduledRunStatus.WAITING,
                next_attempt_at__gt=now,
            )
            .order_by()
            .values("schedule_id")
            .annotate(at=Min("next_attempt_at"))
            .values_list("schedule_id", "at")
        )
        numbers = {schedule.phone_number for schedule in schedules.values()} - {""}
        # The organization's free call slots, counted once for the claim's calls, here:
        # outside the schedules' savepoints (see ConcurrencyBudget).
        budget = ConcurrencyBudget()
        budget.open()
        return cls(schedules, retries, dnc_numbers_listed(numbers=numbers), later_retries, budget)

    def retry_at(self, schedule_id: int, fired: ScheduledRun | None) -> dt.datetime | None:
        """The earliest next attempt of the schedule's waiting runs, after its processing."""
        runs = [*self.retries.get(schedule_id, []), *([fired] if fired is not None else [])]
        times = [
            run.next_attempt_at
            for run in runs
            if run.status == ScheduledRunStatus.WAITING and run.next_attempt_at is not None
        ]
        later = self.later_retries.get(schedule_id)
        if later is not None:
            times.append(later)
        return min(times, default=None)

    def announce_on_commit(self) -> None:
        """``schedule.run`` for each run fired, once the claim commits, with the run as it
        committed (as ``schedule_run_announce_on_commit`` does for one)."""
        run_ids = self.run_ids
        if not run_ids:
            return
        schema = current_schema_name()

        def announce() -> None:
            with schema_context(schema):
                schedule_runs_announce(run_ids=run_ids)

        transaction.on_commit(announce)


def schedules_due_query(*, now: dt.datetime, limit: int = CLAIM_LIMIT) -> Any:
    """The dispatcher's one query: due active index entries, oldest first, locked, skipping
    the ones another dispatcher holds."""
    return (
        ScheduleIndexEntry.objects.select_for_update(skip_locked=True)
        .filter(active=True, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", "organization_id", "schema_name", "schedule_id")[:limit]
    )


def schedules_dispatch_due(
    *,
    now: dt.datetime | None = None,
    budget_seconds: float = TICK_BUDGET_SECONDS,
    limit: int = CLAIM_LIMIT,
) -> int:
    """The beat tick, from the public schema: fire every due run of every organization, in
    claims of ``limit`` index entries, until none is due or the budget is spent (then the
    next tick is sent at once). Returns how many schedules were processed. ``now`` is the
    clock's time (the current time by default; a test's moment)."""
    deadline = time.monotonic() + budget_seconds
    processed = 0
    with schema_context("public"):
        while True:
            claimed = _claim_and_fire(now=now or timezone.now(), limit=limit)
            processed += claimed
            if claimed < limit:
                break
            if time.monotonic() > deadline:
                enqueue(SCHEDULES_DISPATCH_TASK)
                break
    return processed


def _claim_and_fire(*, now: dt.datetime, limit: int) -> int:
    with transaction.atomic():
        entries = list(schedules_due_query(now=now, limit=limit))
        if not entries:
            return 0
        by_organization: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for entry_id, organization_id, _schema, schedule_id in entries:
            by_organization[organization_id].append((entry_id, schedule_id))
        organizations = Organization.objects.in_bulk(list(by_organization))
        for organization_id, items in by_organization.items():
            organization = organizations.get(organization_id)
            if organization is None:
                continue
            with tenant_context(organization):
                chunk = _Chunk.load([schedule_id for _entry, schedule_id in items], now)
                for entry_id, schedule_id in items:
                    _process_guarded(entry_id, schedule_id, now, chunk)
                schedule_index_write_many(chunk.wakes)
                chunk.announce_on_commit()
                for start in range(0, len(chunk.call_ids), PLACE_TASK_CALLS):
                    share = chunk.call_ids[start : start + PLACE_TASK_CALLS]
                    enqueue_on_commit(SCHEDULED_CALLS_PLACE_TASK, call_ids=share)
    return len(entries)


def _process_guarded(entry_id: int, schedule_id: int, now: dt.datetime, chunk: _Chunk) -> None:
    calls, runs = len(chunk.call_ids), len(chunk.run_ids)
    try:
        with transaction.atomic():
            _process(entry_id, schedule_id, now, chunk)
    except Exception as exc:  # one schedule's trouble must not stop the others
        del chunk.call_ids[calls:], chunk.run_ids[runs:]  # rolled back with the savepoint
        chunk.wakes.pop(entry_id, None)
        logger.exception("schedule_dispatch_failed", schedule_id=schedule_id, error=repr(exc))
        ScheduleIndexEntry.objects.filter(pk=entry_id).update(next_run_at=now + ERROR_BACKOFF)


def _process(entry_id: int, schedule_id: int, now: dt.datetime, chunk: _Chunk) -> None:
    """A claimed schedule: its due retries, its due occurrence, its next time in the index."""
    schedule = chunk.schedules.get(schedule_id)
    if schedule is None:
        ScheduleIndexEntry.objects.filter(
            schema_name=current_schema_name(), schedule_id=schedule_id
        ).delete()
        return
    if schedule.status in (ScheduleStatus.ACTIVE, ScheduleStatus.COMPLETED):
        for run in chunk.retries.get(schedule.pk, []):
            _attempt(schedule, run, now, chunk)
    fired = None
    if (
        schedule.status == ScheduleStatus.ACTIVE
        and schedule.next_run_at is not None
        and schedule.next_run_at <= now
    ):
        fired = _occurrence_due(schedule, now, chunk)
    chunk.wakes[entry_id] = schedule_wake_at(schedule, chunk.retry_at(schedule.pk, fired))


# --- an occurrence --------------------------------------------------------------------------------


def _due_occurrences(schedule: ScheduledCall, now: dt.datetime) -> tuple[dt.datetime, int]:
    """The newest occurrence due at ``now`` (from ``next_run_at`` on) and how many are due."""
    due = schedule.next_run_at
    assert due is not None
    if not schedule.cron_expression:
        return due, 1
    newest, count = due, 1
    for occurrence in cron_occurrences(
        schedule.cron_expression,
        tz=schedule_zone(schedule),
        after=due,
        start_date=schedule.start_date,
        end_date=schedule.end_date,
    ):
        if occurrence > now or count >= _MISSED_COUNT_LIMIT:
            break
        newest, count = occurrence, count + 1
    return newest, count


def _occurrence_due(schedule: ScheduledCall, now: dt.datetime, chunk: _Chunk) -> ScheduledRun:
    """Fire (or, missed beyond the policy, skip) the due occurrence, once however many are
    due, and move ``next_run_at`` to the first occurrence after now. Returns its run."""
    newest, count = _due_occurrences(schedule, now)
    if schedule.max_runs is not None:
        count = min(count, max(schedule.max_runs - schedule.run_count, 1))
    late = now - newest
    missed = count > 1 or late > MISSED_AFTER
    details: dict[str, Any] = {}
    if missed:
        details = {
            "missed_occurrences": count,
            "first_missed_at": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
            "late_seconds": int(late.total_seconds()),
        }
    fire = not missed or _runs_when_missed(schedule, late)
    if fire:
        reason = ""
        if missed:
            reason = (
                f"Missed: {_count_text(count)} due since {_local(schedule, schedule.next_run_at)}"
                f", found {_duration(late)} late; run once now."
            )
        # Saved (one INSERT) once its start is known; the unique occurrence still guards it.
        run = ScheduledRun(
            schedule=schedule,
            due_at=newest,
            trigger=ScheduledRun.Trigger.MISSED if missed else ScheduledRun.Trigger.SCHEDULE,
            status=ScheduledRunStatus.IN_PROGRESS,
            reason=reason,
            details=details,
        )
        schedule.run_count += 1
        _run_start(schedule, run, now, chunk)
    else:
        run = ScheduledRun.objects.create(
            schedule=schedule,
            due_at=newest,
            trigger=ScheduledRun.Trigger.MISSED,
            status=ScheduledRunStatus.SKIPPED,
            reason=(
                f"Missed: {_count_text(count)} due since {_local(schedule, schedule.next_run_at)}"
                f", found {_duration(late)} late, beyond the policy "
                f"({schedule.get_missed_policy_display()}); skipped to the next run."
            ),
            details=details,
        )
        logger.warning("scheduled_run_skipped", schedule_id=schedule.pk, due_at=newest.isoformat())
    schedule.last_run = run
    schedule.next_run_at = schedule_next_occurrence(schedule, after=max(now, newest))
    fields = ["last_run", "next_run_at", "run_count", "updated_at"]
    if schedule.next_run_at is None:
        schedule.status = ScheduleStatus.COMPLETED
        schedule.status_reason = _completion_reason(schedule)
        fields += ["status", "status_reason"]
    schedule.save(update_fields=fields)
    return run


def _runs_when_missed(schedule: ScheduledCall, late: dt.timedelta) -> bool:
    if schedule.missed_policy == MissedRunPolicy.RUN_ALWAYS:
        return True
    if schedule.missed_policy == MissedRunPolicy.SKIP:
        return False
    return late <= dt.timedelta(seconds=schedule.missed_grace_seconds)


def _completion_reason(schedule: ScheduledCall) -> str:
    if not schedule.cron_expression:
        return "The one-time run is done."
    if schedule.max_runs is not None and schedule.run_count >= schedule.max_runs:
        return f"max_runs ({schedule.max_runs}) reached."
    if schedule.end_date is not None:
        return f"The end date ({schedule.end_date.isoformat()}) has passed."
    return "No run is left."


def _count_text(count: int) -> str:
    if count >= _MISSED_COUNT_LIMIT:
        return f"{count} or more runs"
    return "1 run" if count == 1 else f"{count} runs"


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _local(schedule: ScheduledCall, at: dt.datetime | None) -> str:
    if at is None:
        return ""
    return at.astimezone(schedule_zone(schedule)).strftime("%Y-%m-%d %H:%M %Z")


# --- a run's attempt ------------------------------------------------------------------------------


def _run_start(
    schedule: ScheduledCall, run: ScheduledRun, now: dt.datetime, chunk: _Chunk | None = None
) -> None:
    """Fire a run (saved by how it starts): its batch, or its call's first attempt; then
    ``schedule.run`` for it after commit (webhooks)."""
    run.fired_at = now
    if schedule.batch_id is not None:
        _batch_run_start(schedule, run)
    else:
        _attempt(schedule, run, now, chunk)
    assert run.pk is not None  # every start saves the run
    if chunk is not None:
        chunk.run_ids.append(run.pk)
    else:
        schedule_run_announce_on_commit(run_id=run.pk)


def _attempt(
    schedule: ScheduledCall, run: ScheduledRun, now: dt.datetime, chunk: _Chunk | None = None
) -> None:
    """One attempt of a run's call: the do-not-call list, then ``call_initiate``. In a claim
    (``chunk``) the call is dialed with the claim's others; alone (run-now), by its own
    ``calls.call_place`` as any single call."""
    if run.fired_at is None:
        run.fired_at = now
    listed = (
        chunk.dnc_listed
        if chunk is not None
        else dnc_numbers_listed(numbers={schedule.phone_number})
    )
    if schedule.phone_number in listed:
        scheduled_run_end(run, ScheduledRunStatus.SKIPPED, reason=DNC_REASON)
        return
    try:
        key = (schedule.agent_id, schedule.from_number_id)
        setup = chunk.setups.get(key) if chunk is not None else None
        if setup is None:
            setup = call_setup_prepare(
                agent_id=schedule.agent_id,
                from_phone=schedule.from_number.number
                if schedule.from_number is not None
                else None,
            )
            if chunk is not None:
                chunk.setups[key] = setup
        call = call_initiate(
            agent_id=schedule.agent_id,
            to_phone=schedule.phone_number,
            variables=schedule.variables,
            schedule_id=schedule.pk,
            setup=setup,
            place=chunk is None,
            budget=chunk.budget if chunk is not None else None,
        )
        if chunk is not None:
            chunk.call_ids.append(call.pk)
    except ConcurrencyLimitReached:
        # Waits for a slot; not an attempt.
        run.status = ScheduledRunStatus.WAITING
        run.next_attempt_at = now + SLOT_RETRY
        run.reason = "Waiting for a free call slot (the organization's concurrency limit)."
        run.save()
        return
    except ApplicationError as exc:
        run.attempts += 1
        scheduled_run_after_attempt(
            schedule, run, BatchRowOutcome.FAILED, error=f"{exc.code}: {exc.message}"[:500]
        )
        return
    run.attempts += 1
    run.call = call
    run.call_ids = [*run.call_ids, call.pk]
    run.status = ScheduledRunStatus.IN_PROGRESS
    run.next_attempt_at = None
    if run.trigger != ScheduledRun.Trigger.MISSED:  # a missed run keeps why it ran late
        run.reason = ""
    run.save()


# --- a batch run ----------------------------------------------------------------------------------


def _batch_run_start(schedule: ScheduledCall, run: ScheduledRun) -> None:
    """A one-time schedule starts its batch; a recurring one runs a copy of the batch's list
    (a new batch, started). Refusals (the batch is not a draft, its agent is paused) fail the
    run with the reason."""
    template = schedule.batch
    assert template is not None
    try:
        with transaction.atomic():
            batch = template if not schedule.cron_expression else _batch_copy(template, run)
            batch_start(batch=batch)
    except ApplicationError as exc:
        run.attempts = 1
        scheduled_run_end(
            run,
            ScheduledRunStatus.FAILED,
            reason=f"{exc.code}: {exc.message}",
            outcome=BatchRowOutcome.FAILED,
        )
        return
    run.attempts = 1
    run.batch = batch
    scheduled_run_end(run, ScheduledRunStatus.STARTED)
    # A batch with nothing to dial completed inside batch_start, before its run was started.
    batch.refresh_from_db(fields=["status", *COUNTER_FIELDS.values()])
    scheduled_run_batch_ended(batch=batch)


def _batch_copy(template: Batch, run: ScheduledRun) -> Batch:
    """A new draft batch with the template's settings and its list: invalid and skipped rows
    stay as they were (their reason kept), except rows skipped for the do-not-call list,
    which are queued and checked again at dial time like every row; the rest are queued
    afresh. One INSERT … SELECT copies the rows."""
    local = run.due_at.astimezone(schedule_zone(run.schedule)).strftime("%Y-%m-%d %H:%M")
    batch = Batch.objects.create(
        name=f"{template.name} · {local}"[:200],
        agent_id=template.agent_id,
        from_number_id=template.from_number_id,
        column_mapping=template.column_mapping,
        source="schedule",
        source_name=f"schedule {run.schedule_id}, copy of batch {template.pk}",
        columns=template.columns,
        created_by_id=template.created_by_id,
        **{name: getattr(template, name) for name in BATCH_SETTINGS_FIELDS},
    )
    table = connection.ops.quote_name(BatchRow._meta.db_table)
    keep = (BatchRowStatus.INVALID, BatchRowStatus.SKIPPED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                (batch_id, line_number, raw, phone_number, timezone, variables, status,
                 attempts, outcome, error, updated_at)
            SELECT %s, line_number, raw, phone_number, timezone, variables,
                   CASE WHEN status IN (%s, %s) AND error <> %s THEN status ELSE %s END,
                   0, '',
                   CASE WHEN status IN (%s, %s) AND error <> %s THEN error ELSE '' END,
                   now()
            FROM {table} WHERE batch_id = %s
            """,
            [batch.pk, *keep, DNC_REASON, BatchRowStatus.QUEUED, *keep, DNC_REASON, template.pk],
        )
    counts = dict(
        BatchRow.objects.filter(batch=batch)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    fields = {COUNTER_FIELDS[status]: counts.get(status, 0) for status in COUNTER_FIELDS}
    Batch.objects.filter(pk=batch.pk).update(total_count=sum(counts.values()), **fields)
    return Batch.objects.get(pk=batch.pk)


# --- run now --------------------------------------------------------------------------------------


def schedule_fire_now(schedule: ScheduledCall) -> ScheduledRun:
    """One run now, outside the schedule's times (it moves neither ``next_run_at`` nor
    ``max_runs``'s count). Call with the index entry and the schedule locked."""
    now = timezone.now()
    run = ScheduledRun.objects.create(
        schedule=schedule,
        due_at=now,
        trigger=ScheduledRun.Trigger.MANUAL,
        status=ScheduledRunStatus.IN_PROGRESS,
    )
    _run_start(schedule, run, now)
    schedule.last_run = run
    schedule.save(update_fields=["last_run", "updated_at"])
    schedule_index_sync(schedule)
    return run


# --- dialing a claim's calls ----------------------------------------------------------------------


def scheduled_calls_place(*, call_ids: list[int]) -> int:
    """Dial the calls a claim started in the active organization through ``calls_place``
    (at most once: a task run twice, or after a crash half-way, dials only those not dialed
    yet). One call's trouble is logged and the others are still dialed. Returns how many
    were dialed."""
    return len(calls_place(call_ids=call_ids))
