"""Writes of the media bridge: what it buffered during the call (transcript turns, tool
invocations, timeline events), written in batches, and what it learned when the call's stream
connected (prompt variables the call did not provide)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from calls.models import CallEvent, ToolInvocation, TranscriptTurn

__all__ = ["call_prompt_variables_missing_record", "call_records_write"]


def call_records_write(
    *,
    call_id: int,
    started_at: dt.datetime,
    turns: Sequence[Mapping[str, Any]] = (),
    tools: Sequence[Mapping[str, Any]] = (),
    events: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write one batch of the bridge's records. Events carry their moment as milliseconds
    since ``started_at`` (``at_ms``); turns carry their offsets in the call's audio."""

    def at(ms: int) -> dt.datetime:
        return started_at + dt.timedelta(milliseconds=ms)

    TranscriptTurn.objects.bulk_create(
        TranscriptTurn(
            call_id=call_id,
            speaker=t["speaker"],
            text=t["text"],
            start_ms=t["start_ms"],
            end_ms=t["end_ms"],
        )
        for t in turns
    )
    ToolInvocation.objects.bulk_create(
        ToolInvocation(
            call_id=call_id,
            name=t["name"],
            arguments=t["arguments"] or {},
            result=t["result"],
            error=t["error"],
            duration_ms=t["duration_ms"],
        )
        for t in tools
    )
    CallEvent.objects.bulk_create(
        CallEvent(
            call_id=call_id,
            kind=CallEvent.Kind.INFO,
            name=e["name"],
            payload=e["payload"],
            created_at=at(e["at_ms"]),
        )
        for e in events
    )


def call_prompt_variables_missing_record(*, call_id: int, missing: Sequence[str]) -> None:
    """Put on the call's timeline that its prompts named variables the call did not give."""
    CallEvent.objects.create(
        call_id=call_id,
        kind=CallEvent.Kind.INFO,
        name="prompt_variables_missing",
        payload={"missing": list(missing)},
    )
