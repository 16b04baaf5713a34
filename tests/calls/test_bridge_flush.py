"""The bridge's buffered records survive the end of the call: the flusher is cancelled when
the call ends, maybe in the middle of a write, and the batch it had taken off the buffer must
still be written before the call is finalized (a cancelled ``database_sync_to_async`` hop that
its thread had not started yet is dropped, which lost the first seconds of a call's timeline).

The bridge is driven directly, through its two seams: hooks that record what they are given
(the persistence a real call gets from ServiceHooks) and a model session that stays silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.realtime.base import Closed, RealtimeEvent, RealtimeSession, SessionConfig
from calls.bridge import core
from calls.bridge.core import CallBridge
from calls.bridge.interface import BridgeHooks, BridgeSettings, PendingRecords
from calls.telephony.twilio import TwilioMediaProtocol

pytestmark = pytest.mark.asyncio


class SilentSession(RealtimeSession):
    """A model that connects and says nothing until closed."""

    def __init__(self) -> None:
        super().__init__(SessionConfig(model="silent"))
        self._closed = asyncio.Event()

    async def connect(self, *, history=None) -> None:
        return None

    async def send_audio(self, mulaw: bytes) -> None:
        return None

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        await self._closed.wait()
        yield Closed(unexpected=False, reason="closed")

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False):
        return None

    async def interrupt(self, *, item_id: str, audio_end_ms: int) -> None:
        return None

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        return None

    async def say(self, text: str) -> None:
        return None

    async def close(self) -> None:
        self._closed.set()


class SlowRecords(BridgeHooks):
    """Persistence whose first write takes ``first_write_s``, as a database hop queued behind
    other work does; it logs what was written and when the call was finalized."""

    def __init__(self, *, first_write_s: float, fail_first: bool = False) -> None:
        self.first_write_s = first_write_s
        self.fail_first = fail_first
        self.log: list[tuple[str, Any]] = []
        self.writes = 0
        self.first_write_started = asyncio.Event()

    async def record(self, records: PendingRecords) -> None:
        self.writes += 1
        if self.writes == 1:
            self.first_write_started.set()
            await asyncio.sleep(self.first_write_s)
            if self.fail_first:
                raise ConnectionError("database went away")
        self.log.append(("record", [event["name"] for event in records.events]))

    async def finalize(self, *, end_reason: str, usage, error_code="", error_message="") -> None:
        self.log.append(("finalize", end_reason))


async def _bridge(hooks: BridgeHooks) -> CallBridge:
    async def send(text: str) -> None:
        return None

    async def close() -> None:
        return None

    bridge = CallBridge(
        protocol=TwilioMediaProtocol(),
        send=send,
        close=close,
        session=SilentSession(),
        hooks=hooks,
        settings=BridgeSettings(silence_timeout_s=0, max_duration_s=600),
        tools={},
        tool_context=lambda bridge: None,  # type: ignore[arg-type,return-value]
        call_id=5,
    )
    await bridge.start(carrier_call_id="CA1", stream_id="MZ1")
    return bridge


async def test_a_batch_in_flight_when_the_call_ends_is_written_before_the_finalize(monkeypatch):
    monkeypatch.setattr(core, "FLUSH_INTERVAL_S", 0.01)
    hooks = SlowRecords(first_write_s=0.3)
    bridge = await _bridge(hooks)
    bridge.event("machine_detected")
    await asyncio.wait_for(hooks.first_write_started.wait(), 2)

    # The caller hangs up while the flusher's write is in flight.
    await asyncio.wait_for(bridge.carrier_closed(), 5)

    assert hooks.log == [
        ("record", ["media_stream_started", "machine_detected"]),
        ("record", ["call_ended"]),
        ("finalize", "caller_hangup"),
    ]


async def test_a_write_that_fails_while_the_call_ends_is_retried_by_the_last_flush(monkeypatch):
    monkeypatch.setattr(core, "FLUSH_INTERVAL_S", 0.01)
    hooks = SlowRecords(first_write_s=0.2, fail_first=True)
    bridge = await _bridge(hooks)
    await asyncio.wait_for(hooks.first_write_started.wait(), 2)

    await asyncio.wait_for(bridge.carrier_closed(), 5)

    assert hooks.log == [
        ("record", ["media_stream_started", "call_ended"]),
        ("finalize", "caller_hangup"),
    ]
