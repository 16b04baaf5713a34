"""Reads of batches: lists, one batch, its rows, its timeline, its progress (counters, percent,
the current rate and an estimated end), its report (one CSV line per input row, in input
order), and which running batches wait for a free call slot."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from calls.exceptions import BatchNotFound
from calls.models import Batch, BatchEvent, BatchRow, BatchRowStatus, BatchStatus, Call
from calls.selectors._common import by_pk

__all__ = [
    "BATCH_REPORT_ANALYSIS_COLUMNS",
    "BATCH_REPORT_COLUMNS",
    "RATE_WINDOW",
    "FINAL_BATCH_STATUSES",
    "BatchProgress",
    "batch_event_list",
    "batch_get",
    "batch_list",
    "batch_progress_get",
    "batch_report_csv",
    "batch_report_header",
    "batch_row_list",
    "batches_waiting_for_slot",
]

# A batch in one of these will never dial again (nor change its counters).
FINAL_BATCH_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.CANCELED})

# The rate is measured over the rows whose call ended in this last stretch of time.
RATE_WINDOW = dt.timedelta(minutes=5)
# Shortest stretch the rate is measured over, so the first seconds of a batch do not show
# a rate of thousands per minute.
_MIN_RATE_SPAN_SECONDS = 30.0
# The report's own columns, after the input's.
BATCH_REPORT_COLUMNS = (
    "status",
    "outcome",
    "attempts",
    "call_ids",
    "duration_seconds",
    "end_reason",
    "phone_number",
    "error",
)
# Then the calls' post-call analysis (of each row's last call): these three, then one column
# per field of the agent's analysis schema, every one prefixed ``analysis_`` so a field may
# share a name with a report column (``status``) without the two being confused.
BATCH_REPORT_ANALYSIS_COLUMNS = ("summary", "sentiment", "goal_reached")
_REPORT_CHUNK = 2000


def batch_list() -> QuerySet[Batch]:
    return Batch.objects.select_related("agent", "from_number", "created_by")


def batch_get(*, batch_id: int | str) -> Batch:
    batch = by_pk(batch_list(), batch_id).first()
    if batch is None:
        raise BatchNotFound()
    return batch


def batch_row_list(*, batch: Batch, statuses: Collection[str] = ()) -> QuerySet[BatchRow]:
    """The batch's rows in input order, optionally only those with one of ``statuses``."""
    rows = BatchRow.objects.filter(batch=batch).order_by("line_number")
    if statuses:
        rows = rows.filter(status__in=list(statuses))
    return rows


def batch_event_list(*, batch: Batch, kinds: Collection[str] = ()) -> QuerySet[BatchEvent]:
    """The batch's timeline, newest first, optionally only events of one of ``kinds``."""
    events = (
        BatchEvent.objects.filter(batch=batch)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    if kinds:
        events = events.filter(kind__in=list(kinds))
    return events


def batches_waiting_for_slot(*, exclude_batch_id: int | None = None, limit: int = 3) -> list[int]:
    """Running batches that would start a call now if a slot of the organization were free:
    below their own ``max_concurrency`` and with a queued row due. Longest waiting first (by
    their oldest due row), at most ``limit``. One query: the oldest due row of each running
    batch is one probe of the due-row index (``batch_row_due``)."""
    now = timezone.now()
    oldest_due = (
        BatchRow.objects.filter(
            batch=OuterRef("pk"), status=BatchRowStatus.QUEUED, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values("next_attempt_at")[:1]
    )
    waiting = (
        Batch.objects.filter(status=BatchStatus.RUNNING, in_progress_count__lt=F("max_concurrency"))
        .annotate(waiting_since=Subquery(oldest_due))
        .filter(waiting_since__isnull=False)
    )
    if exclude_batch_id is not None:
        waiting = waiting.exclude(pk=exclude_batch_id)
    return list(waiting.order_by("waiting_since", "pk").values_list("pk", flat=True)[:limit])


# --- progress ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchProgress:
    total: int
    # Rows that will not be dialed again: completed, failed, invalid, skipped, canceled.
    finished: int
    # Rows still to dial or in flight: queued, in progress.
    remaining: int
    percent: float
    # Rows whose call ended (completed or failed) per minute, over the last few minutes.
    rate_per_minute: float
    # While running and with a rate: how long the remaining rows should take.
    eta_seconds: int | None
    estimated_finish_at: dt.datetime | None


def batch_progress_get(
    *, batch: Batch, now: dt.datetime | None = None, with_rate: bool = True
) -> BatchProgress:
    """Counters, percent done, the current rate and an estimated end. The counters are the
    batch's own (exact); the rate costs one indexed count of recently finished rows (without
    ``with_rate``, no query: the rate is 0 and there is no estimate)."""
    now = now or timezone.now()
    finished = (
        batch.completed_count
        + batch.failed_count
        + batch.invalid_count
        + batch.skipped_count
        + batch.canceled_count
    )
    remaining = batch.queued_count + batch.in_progress_count
    total = batch.total_count
    percent = round(100.0 * finished / total, 1) if total else 100.0
    since = now - RATE_WINDOW
    if batch.started_at is not None and batch.started_at > since:
        since = batch.started_at
    span = max((now - since).total_seconds(), _MIN_RATE_SPAN_SECONDS)
    recent = (
        BatchRow.objects.filter(
            batch=batch,
            status__in=[BatchRowStatus.COMPLETED, BatchRowStatus.FAILED],
            updated_at__gte=since,
        ).count()
        if batch.started_at is not None and with_rate
        else 0
    )
    per_second = recent / span
    eta_seconds: int | None = None
    finish_at: dt.datetime | None = None
    if batch.status == BatchStatus.RUNNING and remaining and per_second > 0:
        eta_seconds = round(remaining / per_second)
        finish_at = now + dt.timedelta(seconds=eta_seconds)
    elif batch.status == BatchStatus.RUNNING and not remaining:
        eta_seconds = 0
        finish_at = now
    return BatchProgress(
        total=total,
        finished=finished,
        remaining=remaining,
        percent=percent,
        rate_per_minute=round(per_second * 60, 2),
        eta_seconds=eta_seconds,
        estimated_finish_at=finish_at,
    )


# --- the report ----------------------------------------------------------------------------------


def _analysis_fields(batch: Batch) -> list[str]:
    """The fields of the batch's agent's analysis schema as it is now (a field added since a
    call was analysed is empty on that call's line), by name: the schema is stored as jsonb,
    which keeps no key order."""
    if batch.agent_id is None:
        return []
    schema = batch.agent.analysis_schema
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return sorted(str(name) for name in properties) if isinstance(properties, dict) else []


def batch_report_header(*, batch: Batch) -> list[str]:
    """``line_number``, the input's columns, the report's own, then the analysis columns; a
    report column whose name an input column already has is prefixed ``batch_``."""
    columns = [str(column) for column in batch.columns or []]
    taken = set(columns)
    analysis = [
        f"analysis_{name}" for name in (*BATCH_REPORT_ANALYSIS_COLUMNS, *_analysis_fields(batch))
    ]
    own = [
        f"batch_{name}" if name in taken else name for name in (*BATCH_REPORT_COLUMNS, *analysis)
    ]
    line = "batch_line_number" if "line_number" in taken else "line_number"
    return [line, *columns, *own]


def _analysis_cells(analysis: Any, fields: list[str]) -> list[str]:
    if not isinstance(analysis, dict):
        return [""] * (len(BATCH_REPORT_ANALYSIS_COLUMNS) + len(fields))
    extracted = analysis.get("fields")
    extracted = extracted if isinstance(extracted, dict) else {}
    return [
        *(_cell(analysis.get(name)) for name in BATCH_REPORT_ANALYSIS_COLUMNS),
        *(_cell(extracted.get(name)) for name in fields),
    ]


def batch_report_csv(*, batch: Batch, chunk_size: int = _REPORT_CHUNK) -> Iterator[str]:
    """The report as CSV text, one chunk of rows at a time (two queries per chunk, walking
    the (batch, line_number) index), so a batch of any size streams in constant memory."""
    columns = [str(column) for column in batch.columns or []]
    fields = _analysis_fields(batch)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(batch_report_header(batch=batch))
    last_line = 0
    while True:
        rows = list(
            BatchRow.objects.filter(batch=batch, line_number__gt=last_line)
            .order_by("line_number")
            .values_list(
                "id",
                "line_number",
                "raw",
                "status",
                "outcome",
                "attempts",
                "phone_number",
                "error",
                "last_call_id",
            )[:chunk_size]
        )
        if not rows:
            break
        calls: dict[int, list[tuple[int, int | None, str, Any]]] = {}
        for row_id, call_id, duration, end_reason, analysis in (
            Call.objects.filter(batch_row_id__in=[row[0] for row in rows])
            .order_by("id")
            .values_list("batch_row_id", "id", "duration_seconds", "end_reason", "analysis")
        ):
            calls.setdefault(row_id, []).append((call_id, duration, end_reason, analysis))
        for row_id, line, raw, status, outcome, attempts, phone, error, last_call_id in rows:
            row_calls = calls.get(row_id, [])
            last = next((c for c in row_calls if c[0] == last_call_id), None) or (
                row_calls[-1] if row_calls else None
            )
            values = raw if isinstance(raw, dict) else {}
            writer.writerow(
                [
                    line,
                    *(_cell(values.get(column)) for column in columns),
                    status,
                    outcome,
                    attempts,
                    " ".join(str(c[0]) for c in row_calls),
                    "" if last is None or last[1] is None else last[1],
                    last[2] if last else "",
                    phone,
                    error,
                    *_analysis_cells(last[3] if last else None, fields),
                ]
            )
        last_line = rows[-1][1]
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
