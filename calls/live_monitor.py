"""What an operator's live view of a call is made of (calls.consumers_live sends it, the call's
admin page renders its first state): who may watch, and the call's state and transcript so
far, in the shapes the page's script (static/calls/live_monitor.js) reads.

Watching is a viewer's right, like reading the call; ending or transferring it is a member's,
as in the API (calls.api.views.calls.CallViewSet.action_roles).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from calls.exceptions import CallNotFound
from calls.models import AnalysisStatus, Call, CallEvent
from calls.selectors import call_get
from organizations.admin_site import membership_role
from organizations.models import Organization, Role, User

__all__ = [
    "LIVE_CONTROL_ROLE",
    "call_page_get",
    "LIVE_WATCH_ROLE",
    "live_call_snapshot",
    "live_call_state",
    "live_call_state_get",
    "live_monitor_role",
    "live_turn",
    "live_ws_path",
]

LIVE_WATCH_ROLE = Role.VIEWER
LIVE_CONTROL_ROLE = Role.MEMBER


def live_ws_path(*, call_id: int) -> str:
    """The call's live view socket (calls/routing.py), on the organization's own domain."""
    return f"/ws/calls/{call_id}/live/"


def live_monitor_role(*, user: Any, organization: Organization | None) -> str | None:
    """``user``'s role in ``organization`` if it lets them watch its calls, else None
    (anonymous, not a member, no organization)."""
    if organization is None or not isinstance(user, User):
        return None
    role = membership_role(user, organization)
    if role is None or not Role.at_least(role, LIVE_WATCH_ROLE):
        return None
    return role


def live_call_state(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk,
        "status": call.status,
        "end_reason": call.end_reason,
        "final": call.is_final,
    }


def live_call_state_get(*, call_id: int) -> dict[str, Any] | None:
    """The call's state alone (what the live view polls), or None when it has no such call."""
    try:
        return live_call_state(call_get(call_id=call_id))
    except CallNotFound:
        return None


def live_turn(*, speaker: str, text: str, start_ms: int, end_ms: int | None) -> dict[str, Any]:
    return {"speaker": speaker, "text": text, "start_ms": start_ms, "end_ms": end_ms}


def live_call_snapshot(*, call_id: int) -> dict[str, Any] | None:
    """The call of the active organization and the turns written so far, or None when it has
    no such call (another organization's call is simply not found)."""
    try:
        call = call_get(call_id=call_id)
    except CallNotFound:
        return None
    turns = [
        live_turn(speaker=t.speaker, text=t.text, start_ms=t.start_ms, end_ms=t.end_ms)
        for t in call.transcript.order_by("start_ms", "id")
    ]
    return {"call": live_call_state(call), "turns": turns}


_SPEAKERS = {"caller": "Caller", "agent": "Agent", "system": "System"}


def _clock(ms: int) -> str:
    seconds = (ms or 0) // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    return str(value)


def _details(payload: Any, *, limit: int = 240) -> str:
    """A timeline entry's payload on one line: ``key: value · key: value``."""
    if not isinstance(payload, dict):
        return _value(payload)
    text = " · ".join(f"{key}: {_value(value)}" for key, value in payload.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _analysis_items(analysis: Any) -> list[tuple[str, str]]:
    """The analysis as (label, value) rows: its own keys first, then the schema's fields."""
    if not isinstance(analysis, dict):
        return []
    items = [(_label(key), _value(value)) for key, value in analysis.items() if key != "fields"]
    fields = analysis.get("fields")
    if isinstance(fields, dict):
        items += [(_label(key), _value(value)) for key, value in fields.items()]
    return items


def call_page_get(*, call: Call) -> dict[str, Any]:
    """What the call's page shows above its fields (templates/admin/calls/call/call_page.html):
    the conversation with each turn's offset in the call and its time of day, the tools the
    agent used, the analysis. ``call`` comes from ``call_get_with_timeline`` (prefetched)."""
    started = call.answered_at or call.created_at
    turns = [
        {
            **live_turn(speaker=t.speaker, text=t.text, start_ms=t.start_ms, end_ms=t.end_ms),
            "who": _SPEAKERS.get(t.speaker, t.speaker),
            "clock": _clock(t.start_ms),
            "at": started + dt.timedelta(milliseconds=t.start_ms) if started else None,
        }
        for t in sorted(call.transcript.all(), key=lambda t: (t.start_ms, t.pk))
    ]
    tools = [
        {
            "name": t.name,
            "at": t.created_at,
            "arguments": t.arguments,
            "result": t.result,
            "error": t.error,
            "duration_ms": t.duration_ms,
        }
        for t in sorted(call.tool_invocations.all(), key=lambda t: (t.created_at, t.pk))
    ]
    timeline = [
        {
            "at": e.created_at,
            "kind": e.kind,
            "kind_label": CallEvent.Kind(e.kind).label
            if e.kind in CallEvent.Kind.values
            else e.kind,
            "name": e.name,
            "details": _details(e.payload),
        }
        for e in call.events.all()  # oldest first (call_get_with_timeline)
    ]
    duration = call.duration_seconds
    return {
        "timeline": timeline,
        "live": not call.is_final,
        "turns": turns,
        "tools": tools,
        "analysis": _analysis_items(call.analysis),
        "analysis_status": (
            AnalysisStatus(call.analysis_status).label
            if call.analysis_status
            else "Not analysed yet."
        ),
        "duration": _clock((duration or 0) * 1000) if duration is not None else "",
        "transfer_number": call.agent.transfer_number if call.agent else "",
    }
