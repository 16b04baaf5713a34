"""What the organization's webhooks are told about calls, batches and schedules: the ``data``
of each event, in the shapes docs/api.md documents (and tests/integrations pin)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calls.models import Batch, Call, ScheduledCall, ScheduledRun, TranscriptTurn
from calls.models.batches import COUNTER_FIELDS

__all__ = [
    "batch_webhook_payload",
    "call_ended_webhook_payload",
    "call_webhook_payload",
    "schedule_run_webhook_payload",
]


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _call(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk,
        "direction": call.direction,
        "status": call.status,
        "end_reason": call.end_reason,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "agent_id": call.agent_id,
        "agent_version": call.agent_version.number if call.agent_version else None,
        "batch_id": call.batch_id,
        "batch_row_id": call.batch_row_id,
        "schedule_id": call.schedule_id,
        "variables": dict(call.variables or {}),
        "created_at": _time(call.created_at),
        "answered_at": _time(call.answered_at),
        "ended_at": _time(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "recording_url": call.recording_url,
        "error_code": call.error_code,
        "error_message": call.error_message,
    }


def call_webhook_payload(call: Call) -> dict[str, Any]:
    """``call.started`` and ``call.failed``."""
    return {"call": _call(call)}


def call_ended_webhook_payload(call: Call) -> dict[str, Any]:
    """``call.ended``: the call, its transcript in order and its analysis (or none, and why)."""
    turns = TranscriptTurn.objects.filter(call=call).order_by("start_ms", "id")
    return {
        "call": _call(call),
        "transcript": [
            {"speaker": t.speaker, "text": t.text, "start_ms": t.start_ms, "end_ms": t.end_ms}
            for t in turns
        ],
        "analysis": call.analysis,
        "analysis_status": call.analysis_status,
        "analysis_error": call.analysis_error,
    }


def batch_webhook_payload(batch: Batch) -> dict[str, Any]:
    """``batch.progress`` and ``batch.completed``."""
    counters = {field: getattr(batch, field) for field in COUNTER_FIELDS.values()}
    done = batch.total_count - batch.queued_count - batch.in_progress_count
    return {
        "batch": {
            "id": batch.pk,
            "name": batch.name,
            "status": batch.status,
            "total_count": batch.total_count,
            **counters,
            "done_count": done,
            "percent_done": round(100 * done / batch.total_count, 1)
            if batch.total_count
            else 100.0,
            "started_at": _time(batch.started_at),
            "finished_at": _time(batch.finished_at),
        }
    }


def schedule_run_webhook_payload(schedule: ScheduledCall, run: ScheduledRun) -> dict[str, Any]:
    """``schedule.run``."""
    return {
        "schedule": {
            "id": schedule.pk,
            "name": schedule.name,
            "agent_id": schedule.agent_id,
            "phone_number": schedule.phone_number,
            "batch_id": schedule.batch_id,
            "cron_expression": schedule.cron_expression,
            "timezone": schedule.timezone,
        },
        "run": {
            "id": run.pk,
            "due_at": _time(run.due_at),
            "fired_at": _time(run.fired_at),
            "trigger": run.trigger,
            "status": run.status,
            "reason": run.reason,
            "call_id": run.call_id,
            "batch_id": run.batch_id,
        },
    }
