"""The batch dispatcher: claims a running batch's due rows and starts their calls, at most
``max_concurrency`` of the batch in flight and never more than the organization's limit
across all its calls, paced to ``calls_per_second``, inside each callee's calling window,
never dialing a number on the do-not-call list.

It keeps no state in process memory: everything it decides from is a row in PostgreSQL, so
any number of workers on any number of machines may run it for the same batch at once, and
a worker killed at any point leaves nothing that a later run cannot finish.

- **Claim.** Rows are taken with ``SELECT … FOR UPDATE SKIP LOCKED`` in a transaction that
  also creates each row's Call (``call_initiate``, queued) and moves the row to
  ``in_progress``: a claimed row always has its call, and a rolled-back claim leaves the row
  queued and no call. The call is dialed by ``calls.call_place`` after commit, which claims
  the call's ``placed_at`` first and so dials at most once however often it runs.
- **Limits.** The claim holds the organization's call-concurrency lock (``calls.locks``) and
  the batch row: the batch's in-flight count is its exact ``in_progress_count``, the
  organization's is its active calls. A row over either limit stays queued and waits.
- **Pacing.** ``next_dial_at`` is advanced by a compare-and-set UPDATE before claiming, so of
  several workers exactly one takes each start slot; the one that does schedules the next
  run for the following slot, and hands the slot back when it could not use it.
- **Repair.** Each run first finishes rows whose call is final but whose outcome was never
  recorded (the process died between), and sends ``calls.call_place`` again for a claimed
  call that was never dialed (its task was lost).

Runs are started by the control actions, by every call of the batch that ends (the freed slot
is filled at once), by the end of any other call of the organization while the batch waits
for a slot (``batch_slot_freed_on_commit``) and by the periodic tick (``batches_dispatch_due``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from calls.exceptions import ConcurrencyLimitReached, InvalidPhoneNumber
from calls.locks import batch_dispatch_lock_try, call_concurrency_lock
from calls.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    Batch,
    BatchEvent,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    BatchStatus,
    Call,
    CallStatus,
)
from calls.selectors import current_organization, dnc_numbers_listed
from calls.services.batch_rows import (
    BATCH_DISPATCH_TASK,
    BatchWindow,
    _complete_if_done,
    _progress_on_commit,
    _queued_rows_due_now,
    batch_event_record,
    batch_row_call_ended,
    batch_row_transition,
    batch_rows_transition,
    batch_window,
)
from calls.services.outbound import (
    CALL_PLACE_TASK,
    CallSetup,
    call_initiate,
    call_setup_prepare,
)
from calls.windows import window_allows
from organizations.models import Organization
from voiceagents.exceptions import ApplicationError, ValidationFailed
from voiceagents.queue import enqueue, task_by_name, tenant_headers
from voiceagents.tenancy import current_schema_name, for_each_tenant

__all__ = ["BatchDispatchResult", "batch_dispatch", "batches_dispatch_due"]

logger = structlog.get_logger(__name__)

# Rows claimed per transaction: the organization's lock is held for one chunk at a time, so
# single calls of the organization wait for at most one chunk.
CLAIM_CHUNK = 20
# Rows looked at per transaction beyond the ones claimed (rows outside their window, on the
# do-not-call list): bounds a transaction when many rows wait at once.
EXAMINE_LIMIT = 500
# One run stops after this long and sends the next, so a big batch never holds a worker.
RUN_BUDGET_SECONDS = 5.0
# A claimed call still not dialed after this long has lost its call_place task.
UNPLACED_AFTER = dt.timedelta(seconds=30)
# A start slot this close is taken now: a timed run may wake a hair early.
PACING_SLACK = dt.timedelta(milliseconds=20)
# A run that took a start slot while the previous slot's run still claims comes back after.
PACING_BUSY_RETRY = dt.timedelta(milliseconds=50)
# Why a row was skipped at dial time (BatchRow.error).
DNC_REASON = "On the do-not-call list."


@dataclass
class BatchDispatchResult:
    """What one dispatcher run did, and why it stopped (``stopped``): ``not_running``,
    ``batch_limit``, ``org_limit``, ``pacing``, ``no_due_rows``, ``paused`` (a problem of
    the batch's own setup), ``budget`` (it sent the next run)."""

    claimed: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    reconciled: int = 0
    stopped: str = ""
    call_ids: list[int] = field(default_factory=list)


def batch_dispatch(*, batch_id: int, repair: bool = False) -> BatchDispatchResult:
    """Start calls for the batch's due rows until a limit, the pace or the rows say stop.
    ``repair`` (the tick's runs) first finishes what a crash left behind.

    One run claims at a time per batch (``calls.locks.batch_dispatch_lock_try``); a run that
    finds another claiming leaves at once ("busy"), so the one claiming must not leave while
    a slot or a row it has not seen may be waiting: after every claim it reads the free slots
    and the due rows again, after its commit, and goes on while there are both."""
    result = BatchDispatchResult()
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        result.stopped = "not_running"
        return result
    if repair:
        result.reconciled = _reconcile(batch)
        _queued_rows_due_now(batch_id)  # rows added without a time (the due-row index)
    if batch.status != BatchStatus.RUNNING:
        result.stopped = "not_running"
        return result
    organization = current_organization()
    window = batch_window(batch=batch, organization=organization)
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    while True:
        batch = Batch.objects.get(pk=batch_id)
        if batch.status != BatchStatus.RUNNING:
            result.stopped = "not_running"
            break
        free = _free_slots(batch, organization)
        if free <= 0:
            result.stopped = _limit_reason(batch)
            break
        interval = _pacing_interval(batch)
        slot: dt.datetime | None = None
        if interval is not None:
            slot = _pacing_slot_take(batch, interval)
            if slot is None:
                result.stopped = "pacing"
                break
        chunk = _claim(
            batch_id=batch_id,
            organization=organization,
            window=window,
            limit=1 if interval is not None else min(free, CLAIM_CHUNK),
        )
        result.claimed += chunk.claimed
        result.skipped += chunk.skipped
        result.deferred += chunk.deferred
        result.failed += chunk.failed
        result.call_ids += chunk.call_ids
        if interval is not None and slot is not None:
            if chunk.claimed:
                # The next start slot: one run, the one that took this slot, wakes for it.
                _send_at(batch_id, slot + interval)
            else:
                _pacing_slot_return(batch_id, taken=slot, interval=interval)
                if chunk.stopped == "busy":
                    # The run claiming the previous slot has not committed yet: come back.
                    _send_at(batch_id, timezone.now() + min(interval, PACING_BUSY_RETRY))
        if chunk.stopped in ("busy", "not_running", "paused"):
            result.stopped = chunk.stopped
            break
        if chunk.stopped == "no_due_rows" and not _has_due_rows(batch_id):
            result.stopped = "no_due_rows"
            break
        if interval is not None and chunk.claimed:
            result.stopped = "pacing"  # the run sent for the next slot reads them again
            break
        if time.monotonic() > deadline:
            enqueue(BATCH_DISPATCH_TASK, batch_id=batch_id)
            result.stopped = "budget"
            break
        # A full chunk, or a limit met inside the claim: read the slots again after commit.
    if result.claimed or result.skipped or result.failed:
        logger.info(
            "batch_dispatched",
            batch_id=batch_id,
            claimed=result.claimed,
            skipped=result.skipped,
            deferred=result.deferred,
            failed=result.failed,
            stopped=result.stopped,
        )
    return result


def _has_due_rows(batch_id: int) -> bool:
    return BatchRow.objects.filter(
        batch_id=batch_id, status=BatchRowStatus.QUEUED, next_attempt_at__lte=timezone.now()
    ).exists()


# --- limits and pacing ----------------------------------------------------------------------------


def _org_limit(organization: Organization) -> int:
    # Read afresh: the organization row a task has may be cached.
    limit: int = (
        Organization.objects.filter(pk=organization.pk)
        .values_list("max_concurrent_calls", flat=True)
        .get()
    )
    return limit


def _org_active_calls() -> int:
    return Call.objects.filter(status__in=ACTIVE_STATUSES).count()


def _free_slots(batch: Batch, organization: Organization) -> int:
    """Calls that may start now (a read without locks, to stop early; the claim decides)."""
    batch_free = batch.max_concurrency - batch.in_progress_count
    if batch_free <= 0:
        return 0
    return min(batch_free, _org_limit(organization) - _org_active_calls())


def _limit_reason(batch: Batch) -> str:
    return "batch_limit" if batch.in_progress_count >= batch.max_concurrency else "org_limit"


def _pacing_interval(batch: Batch) -> dt.timedelta | None:
    if batch.calls_per_second <= 0:
        return None
    return dt.timedelta(seconds=1 / batch.calls_per_second)


def _pacing_slot_take(batch: Batch, interval: dt.timedelta) -> dt.datetime | None:
    """Take the batch's next start slot if it is due: compare-and-set ``next_dial_at`` from
    the value read to the slot after. Returns the slot taken, None when it is not due yet or
    another worker took it first."""
    now = timezone.now()
    current = batch.next_dial_at
    if current is not None and current > now + PACING_SLACK:
        return None
    slot = now if current is None or current < now else current
    unchanged = Q(next_dial_at__isnull=True) if current is None else Q(next_dial_at=current)
    taken = Batch.objects.filter(unchanged, pk=batch.pk).update(next_dial_at=slot + interval)
    if not taken:
        return None
    early = (slot - timezone.now()).total_seconds()
    if early > 0:  # woken a hair before the slot: never start before it
        time.sleep(early)
    return slot


def _pacing_slot_return(batch_id: int, *, taken: dt.datetime, interval: dt.timedelta) -> None:
    """Give back a start slot that was taken but not used (no row was due or free), unless
    the pace moved on meanwhile."""
    Batch.objects.filter(pk=batch_id, next_dial_at=taken + interval).update(next_dial_at=taken)


def _send_at(batch_id: int, at: dt.datetime) -> None:
    task_by_name(BATCH_DISPATCH_TASK).apply_async(
        kwargs={"batch_id": batch_id}, eta=at, headers=tenant_headers()
    )


# --- the claim ------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    claimed: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str = ""
    call_ids: list[int] = field(default_factory=list)
    # The agent and caller id checked and looked up once for the chunk's calls (on its first
    # call): one claim transaction takes milliseconds, and the next one looks again.
    setup: CallSetup | None = None


def _claim(*, batch_id: int, organization: Organization, window: BatchWindow, limit: int) -> _Chunk:
    """One claim transaction: up to ``limit`` due rows become calls, rows on the do-not-call
    list are skipped, rows outside their window wait for it."""
    chunk = _Chunk()
    with transaction.atomic():
        if not batch_dispatch_lock_try(schema_name=current_schema_name(), batch_id=batch_id):
            chunk.stopped = "busy"  # the run holding it sees what this one came for
            return chunk
        call_concurrency_lock(organization_id=organization.pk)
        batch = (
            Batch.objects.select_for_update(of=("self",))
            .select_related("from_number")
            .get(pk=batch_id)
        )
        if batch.status != BatchStatus.RUNNING:
            chunk.stopped = "not_running"
            return chunk
        want = min(
            limit,
            batch.max_concurrency - batch.in_progress_count,
            _org_limit(organization) - _org_active_calls(),
        )
        if want <= 0:
            chunk.stopped = _limit_reason(batch)
            return chunk
        examined = 0
        while chunk.claimed < want and not chunk.stopped:
            now = timezone.now()
            rows = list(
                BatchRow.objects.select_for_update(skip_locked=True)
                .filter(batch_id=batch_id, status=BatchRowStatus.QUEUED, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "line_number")[: want - chunk.claimed + 10]
            )
            if not rows:
                chunk.stopped = "no_due_rows"
                break
            examined += len(rows)
            claimed = _claim_rows(batch, rows, window, now, chunk, want)
            _rows_in_progress(batch_id, claimed)
            if examined >= EXAMINE_LIMIT and chunk.claimed < want and not chunk.stopped:
                # Many rows waited at once: let the next transaction look further.
                break
        if chunk.claimed or chunk.skipped or chunk.failed or chunk.deferred:
            if chunk.skipped or chunk.failed:
                _complete_if_done(batch_id)
            _progress_on_commit(batch_id)
    return chunk


def _claim_rows(
    batch: Batch,
    rows: list[BatchRow],
    window: BatchWindow,
    now: dt.datetime,
    chunk: _Chunk,
    want: int,
) -> list[int]:
    """Decide each row of one page; returns the rows that got their call."""
    claimed: list[int] = []
    blocked = dnc_numbers_listed(numbers={row.phone_number for row in rows if row.phone_number})
    waiting: dict[dt.datetime, list[int]] = defaultdict(list)
    for row in rows:
        if chunk.claimed >= want or chunk.stopped:
            break
        if not row.phone_number:
            batch_row_transition(row=row, to_status=BatchRowStatus.INVALID, error="No number.")
            chunk.skipped += 1
            continue
        if row.phone_number in blocked:
            # The list may have changed since the import: checked again at every dial.
            batch_row_transition(row=row, to_status=BatchRowStatus.SKIPPED, error=DNC_REASON)
            chunk.skipped += 1
            continue
        local = now.astimezone(window.zone_of(row))
        if not window_allows(local, days=window.days, start=window.start, end=window.end):
            opening = window.next_opening(row, now)
            if opening is None:
                batch_row_transition(
                    row=row, to_status=BatchRowStatus.SKIPPED, error="No calling window."
                )
                chunk.skipped += 1
            else:
                waiting[opening].append(row.pk)
            continue
        if _claim_row(batch, row, chunk):
            claimed.append(row.pk)
    for opening, row_ids in waiting.items():
        # Not a status change: the rows stay queued, out of the due-row index until then.
        BatchRow.objects.filter(pk__in=row_ids).update(next_attempt_at=opening)
        chunk.deferred += len(row_ids)
    return claimed


def _rows_in_progress(batch_id: int, row_ids: list[int]) -> None:
    """The rows that got their call (in this transaction) move to in_progress together: one
    UPDATE names each row's newest call, one moves the counters."""
    if not row_ids:
        return
    newest_call = Call.objects.filter(batch_row=OuterRef("pk")).order_by("-id").values("pk")[:1]
    moved = batch_rows_transition(
        batch_id=batch_id,
        rows=BatchRow.objects.filter(pk__in=row_ids),
        from_status=BatchRowStatus.QUEUED,
        to_status=BatchRowStatus.IN_PROGRESS,
        attempts=F("attempts") + 1,
        last_call_id=Subquery(newest_call),
        outcome="",
        error="",
    )
    if moved != len(row_ids):  # the rows are locked by this transaction: cannot happen
        raise RuntimeError(f"claimed {len(row_ids)} rows of batch {batch_id}, moved {moved}")


def _claim_row(batch: Batch, row: BatchRow, chunk: _Chunk) -> bool:
    """Create the row's call (True), or decide what a refusal means: the organization's limit
    (the row waits), a problem of this row's number or variables (the row is invalid or
    fails), or anything else, a problem of the batch's setup that every row would meet (its
    agent paused, its number or a provider not usable): the batch pauses with the reason
    rather than burning through the list. ``call_initiate`` writes only inside its own atomic
    block (a savepoint here), so a refusal leaves this transaction as it was. The agent and
    caller id are checked on the chunk's first call (``call_setup_prepare``): a refusal of
    theirs is the batch's setup, and pauses it as before."""
    try:
        if chunk.setup is None:
            chunk.setup = call_setup_prepare(
                agent_id=batch.agent_id, from_phone=batch.from_number.number
            )
        call = call_initiate(
            agent_id=batch.agent_id,
            to_phone=row.phone_number,
            variables=row.variables,
            batch_id=batch.pk,
            batch_row_id=row.pk,
            setup=chunk.setup,
        )
    except ConcurrencyLimitReached:
        chunk.stopped = "org_limit"
        return False
    except InvalidPhoneNumber as exc:
        batch_row_transition(row=row, to_status=BatchRowStatus.INVALID, error=exc.message[:500])
        chunk.skipped += 1
        return False
    except ApplicationError as exc:
        if _about_the_row(exc):
            _row_refused(row, exc, chunk)
        else:
            _pause_for(batch, exc)
            chunk.stopped = "paused"
        return False
    chunk.claimed += 1
    chunk.call_ids.append(call.pk)
    return True


# What call_initiate is told about the row itself; a refusal about anything else concerns
# the batch's setup.
_ROW_FIELDS = frozenset({"to_phone", "variables"})


def _about_the_row(exc: ApplicationError) -> bool:
    fields = exc.details.get("fields") if isinstance(exc, ValidationFailed) else None
    return isinstance(fields, dict) and bool(fields) and set(fields) <= _ROW_FIELDS


def _row_refused(row: BatchRow, exc: ApplicationError, chunk: _Chunk) -> None:
    batch_row_transition(
        row=row,
        to_status=BatchRowStatus.FAILED,
        attempts=row.attempts + 1,
        outcome=BatchRowOutcome.FAILED,
        error=f"{exc.code}: {exc.message}"[:500],
    )
    chunk.failed += 1


def _pause_for(batch: Batch, exc: ApplicationError) -> None:
    """Pause a batch that cannot place any call as set up: every row would fail the same way.
    Resuming it (once the setup is fixed) dials on."""
    reason = f"Paused: {exc.message}"[:500]
    paused = Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
        status=BatchStatus.PAUSED, status_reason=reason, updated_at=timezone.now()
    )
    if paused:
        batch_event_record(
            batch=batch,
            kind=BatchEvent.Kind.ERROR,
            name="paused_on_error",
            payload={"code": exc.code, "message": exc.message, "details": exc.details},
        )
        logger.warning("batch_paused_on_error", batch_id=batch.pk, code=exc.code)


# --- repair ---------------------------------------------------------------------------------------


def _reconcile(batch: Batch) -> int:
    """Finish rows in progress whose call is final but whose outcome was never recorded, and
    send the dial again for claimed calls never dialed. Both only read the batch's rows in
    progress (at most ``max_concurrency`` of them), through their index."""
    if batch.in_progress_count <= 0:
        return 0
    in_progress = BatchRow.objects.filter(batch_id=batch.pk, status=BatchRowStatus.IN_PROGRESS)
    finished = list(
        in_progress.filter(last_call__status__in=FINAL_STATUSES).values_list(
            "last_call_id", flat=True
        )[:200]
    )
    for call_id in finished:
        if call_id is not None:
            batch_row_call_ended(call_id=call_id)
    unplaced = list(
        in_progress.filter(
            last_call__status=CallStatus.QUEUED,
            last_call__placed_at__isnull=True,
            last_call__created_at__lt=timezone.now() - UNPLACED_AFTER,
        ).values_list("last_call_id", flat=True)[:200]
    )
    for call_id in unplaced:
        # call_place claims placed_at first: a task that was only late dials nobody twice.
        enqueue(CALL_PLACE_TASK, call_id=call_id)
    if finished or unplaced:
        logger.warning(
            "batch_reconciled", batch_id=batch.pk, finished=len(finished), unplaced=len(unplaced)
        )
    return len(finished) + len(unplaced)


# --- the periodic tick ----------------------------------------------------------------------------


def batches_dispatch_due() -> int:
    """The beat tick, from the public schema: send the dispatcher for every running batch of
    every organization, and for batches with calls in flight (to repair their rows). Returns
    how many runs were sent. The runs themselves decide whether anything is due."""
    return sum(for_each_tenant(_dispatch_due_here))


def _dispatch_due_here(organization: Organization) -> int:
    try:
        batch_ids = list(
            Batch.objects.filter(
                Q(status=BatchStatus.RUNNING)
                | Q(
                    status__in=(BatchStatus.PAUSED, BatchStatus.CANCELED),
                    in_progress_count__gt=0,
                )
            ).values_list("pk", flat=True)
        )
        for batch_id in batch_ids:
            enqueue(BATCH_DISPATCH_TASK, batch_id=batch_id, repair=True)
    except Exception as exc:  # one organization's trouble must not stop the others' batches
        logger.exception(
            "batches_dispatch_due_failed", organization_id=organization.pk, error=repr(exc)
        )
        return 0
    return len(batch_ids)
