"""Reads of calls: lists, one call with its timeline, its state in a few fields."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from calls.exceptions import CallNotFound
from calls.models import Call, CallEvent
from calls.selectors._common import by_pk

__all__ = ["call_get", "call_get_with_timeline", "call_list", "call_status_get"]


def call_list() -> QuerySet[Call]:
    """Calls with what lists show; ``calls.filtersets.CallFilterSet`` narrows them."""
    return Call.objects.select_related("agent", "agent_version", "phone_number")


def call_get(*, call_id: int | str) -> Call:
    call = by_pk(call_list(), call_id).first()
    if call is None:
        raise CallNotFound()
    return call


def call_get_with_timeline(*, call_id: int | str) -> Call:
    with_timeline = call_list().prefetch_related(
        Prefetch("events", queryset=CallEvent.objects.order_by("created_at", "id")),
        "transcript",
        "tool_invocations",
    )
    call = by_pk(with_timeline, call_id).first()
    if call is None:
        raise CallNotFound()
    return call


def call_status_get(*, call_id: int | str) -> dict[str, Any]:
    """The call's state in a few fields (for polling clients and the bridge)."""
    call = call_get(call_id=call_id)
    return {
        "id": call.pk,
        "status": call.status,
        "end_reason": call.end_reason,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
    }
