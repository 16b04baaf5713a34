"""One live call between a carrier media stream and a realtime model session.

The per-frame paths are kept minimal, because they run 50 times a second per direction for
every call in the process:

* carrier -> model: the consumer parses the frame (orjson), pushes the base64 payload into a
  bounded queue, and a sender task forwards the string unchanged (no base64 round trip for
  OpenAI; other providers decode once and transcode in their own module);
* model -> carrier: each audio chunk's base64 goes into a pre-built JSON string; a playback
  ``mark`` follows every ~100 ms of audio (not every chunk), enough to know what the caller
  actually heard when they barge in.

Nothing on those paths touches the database or logs. Transcript turns, tool invocations and
timeline events are buffered and written in batches by a flusher task, and once more when the
call ends. Every call is finalized exactly once, whichever side ends it: the ending runs in
its own task, so a caller cancelled meanwhile (a server shutting down) does not cut it short.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog

from agents.realtime.base import (
    AudioOut,
    Closed,
    EncodedAudio,
    ProviderError,
    RealtimeSession,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    Transcript,
)
from agents.tools import Tool, ToolContext
from calls.bridge.interface import BridgeHooks, BridgeSettings, PendingRecords
from calls.bridge.timers import BridgeTimers
from calls.bridge.tool_calls import tool_run
from calls.telephony.media import MediaProtocol
from voiceagents.metrics import ACTIVE_CALLS, BRIDGE_FRAME_LATENCY

# One frame in 64 per direction (the 1st, 65th...) is timed for the frame-latency histogram:
# enough for its quantiles, and the audio path pays for two clock reads 1.5% of the time.
FRAME_SAMPLE_MASK = 63
FRAME_SECONDS_TO_CARRIER = BRIDGE_FRAME_LATENCY.labels("to_carrier")
FRAME_SECONDS_TO_MODEL = BRIDGE_FRAME_LATENCY.labels("to_model")

logger = structlog.get_logger(__name__)

MARK_EVERY_MS = 100
# 50 frames = 1 s of caller audio. If the model's socket stalls longer than that, the oldest
# audio is dropped: stale speech is worth less than bounded memory.
CALLER_QUEUE_FRAMES = 50
FLUSH_INTERVAL_S = 2.0
MAX_RECONNECTS = 1
FINALIZE_RETRY_S = 1.0
APOLOGY = "We are sorry, we are having technical difficulties. Please call again later."
DTMF_TEXT = "(The caller pressed the key {digit} on their phone's keypad.)"


class CallBridge(BridgeTimers):
    """One call's bridge; its timers (request_hangup and the watchdog) are in BridgeTimers."""

    def __init__(
        self,
        *,
        protocol: MediaProtocol,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        session: RealtimeSession,
        hooks: BridgeHooks,
        settings: BridgeSettings,
        tools: dict[str, Tool],
        tool_context: Callable[[CallBridge], ToolContext],
        call_id: int,
    ) -> None:
        self.protocol = protocol
        self._send = send
        self._close_carrier = close
        self.session = session
        self.hooks = hooks
        self.settings = settings
        self.tools = tools
        self._tool_context = tool_context
        self.call_id = call_id
        self.log = logger.bind(call_id=call_id)

        self.started_at = time.monotonic()
        self.records = PendingRecords()
        self.history: list[Transcript] = []
        # Every turn so far, as published: an operator who opens the call's live view gets
        # them all (the buffered ones are not in the database yet).
        self.turns: list[dict[str, Any]] = []
        self.usage: dict[str, Any] = {}
        self._caller_audio: deque[str] = deque(maxlen=CALLER_QUEUE_FRAMES)
        self._caller_audio_ready = asyncio.Event()
        self.frames_dropped = 0
        self._frames_in = 0
        self._frames_out = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._tool_tasks: set[asyncio.Task[Any]] = set()
        self._writes: set[asyncio.Task[None]] = set()
        self._finished = asyncio.Event()
        self._finishing = False
        self._started = False
        self._ending: asyncio.Task[None] | None = None
        self._connected = False
        self._carrier_open = True

        # playback of the agent's current answer
        self._item_id = ""
        self._item_started_at = 0.0
        self._sent_bytes = 0
        self._last_mark_bytes = 0
        self._marks: dict[str, tuple[str, int]] = {}
        self._mark_seq = 0
        self._played_bytes = 0
        self._played_at = 0.0
        self._response_active = False
        self._agent_turn_start_ms = 0

        # conversation state
        self._caller_speech_started_ms: int | None = None
        self._last_activity = self.started_at
        self._silence_prompts = 0
        self._max_duration_hit = False
        self._pending_hangup: str | None = None
        self._hangup_deadline = 0.0
        self._end_reason_hint: str | None = None
        self._reconnects = 0
        self._finish_task: asyncio.Task[None] | None = None

    # --- helpers --------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    def event(self, name: str, **payload: Any) -> None:
        self.records.events.append({"name": name, "payload": payload, "at_ms": self._now_ms()})

    async def _send_carrier(self, text: str) -> None:
        if self._carrier_open:
            await self._send(text)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """The carrier's stream has started: the model session and the call's tasks run."""
        return self._started

    async def start(self, *, carrier_call_id: str, stream_id: str) -> None:
        """The carrier's stream started: open the model session and the call's tasks. Once
        per call; a repeated start, or one after the call ended, does nothing."""
        if self._started or self._finishing:
            return
        self._started = True
        ACTIVE_CALLS.inc()
        self.event("media_stream_started", stream_id=stream_id, carrier_call_id=carrier_call_id)
        self._tasks = [
            asyncio.create_task(self._run_session(), name=f"call-{self.call_id}-session"),
            asyncio.create_task(self._watchdog(), name=f"call-{self.call_id}-watchdog"),
            asyncio.create_task(self._flusher(), name=f"call-{self.call_id}-flusher"),
        ]
        await self.hooks.started(carrier_call_id=carrier_call_id, stream_id=stream_id)

    async def _run_session(self) -> None:
        try:
            await self.session.connect()
        except Exception as exc:
            self.log.warning("provider_connect_failed", error=str(exc))
            self.event("provider_connect_failed", error=str(exc))
            await self._apologize_and_end()
            return
        self._connected = True
        sender = asyncio.create_task(self._send_caller_audio(), name=f"call-{self.call_id}-sender")
        self._tasks.append(sender)
        if self.settings.first_message:
            await self.session.say(self.settings.first_message)
        while not self._finishing:
            closed = await self._pump()
            if self._finishing or not closed.unexpected:
                if not self._finishing:
                    await self._apologize_and_end()
                return
            # The provider dropped mid-call: reconnect once with the conversation so far.
            self._connected = False
            self.event("provider_dropped", reason=closed.reason)
            if self._reconnects >= MAX_RECONNECTS:
                await self._apologize_and_end()
                return
            self._reconnects += 1
            try:
                await self.session.connect(history=list(self.history))
            except Exception as exc:
                self.event("provider_reconnect_failed", error=str(exc))
                await self._apologize_and_end()
                return
            self._connected = True
            self._forget_playback()
            self.event("provider_reconnected")

    async def _pump(self) -> Closed:
        async for event in self.session.events():
            # Ordered by frequency: audio first.
            if type(event) is not Closed:
                await self._on_provider_event(event)
            else:
                return event
        return Closed(unexpected=True, reason="event stream ended")

    async def carrier_closed(self) -> None:
        """The carrier's socket closed (or sent stop): the caller is gone."""
        self._carrier_open = False
        await self.finish(self._end_reason_hint or self._pending_hangup or "caller_hangup")

    async def finish(
        self, end_reason: str, *, error_code: str = "", error_message: str = ""
    ) -> None:
        """End the call once, whoever asks first (later callers wait for that ending): stop
        the tasks, close the model, write what is buffered, finalize, close the carrier."""
        if self._ending is None:
            self._finishing = True
            self._ending = asyncio.create_task(
                self._end(end_reason, error_code, error_message), name=f"call-{self.call_id}-end"
            )
        # Shielded: cancelling the caller (the consumer's task at a server shutdown, or one of
        # the tasks the ending itself cancels) must not cancel the ending.
        await asyncio.shield(self._ending)

    async def _end(self, end_reason: str, error_code: str, error_message: str) -> None:
        try:
            tasks = [*self._tasks, *self._tool_tasks]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            # The flusher may have been cancelled in the middle of a write, which goes on
            # (see _flush): its batch is saved, or back in the buffer, before the last flush,
            # so the timeline is complete when the call turns final.
            while self._writes:
                await asyncio.gather(*self._writes, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.session.close()
            self.event("call_ended", end_reason=end_reason, frames_dropped=self.frames_dropped)
            await self._flush()
            await self._finalize(end_reason, error_code, error_message)
            if self._carrier_open:
                self._carrier_open = False
                with contextlib.suppress(Exception):
                    await self._close_carrier()
        finally:
            if self._started:
                ACTIVE_CALLS.dec()
            self._finished.set()

    async def _finalize(self, end_reason: str, error_code: str, error_message: str) -> None:
        """Finalize through the hooks, with one retry (the service is idempotent). A call
        this cannot finalize (the database is gone) is left to the stale-calls sweeper."""
        for attempt in (1, 2):
            try:
                await self.hooks.finalize(
                    end_reason=end_reason,
                    usage=self.usage,
                    error_code=error_code,
                    error_message=error_message,
                )
                return
            except Exception as exc:
                self.log.warning(
                    "bridge_finalize_failed",
                    end_reason=end_reason,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == 1:
                    await asyncio.sleep(FINALIZE_RETRY_S)

    # --- carrier -> model ---------------------------------------------------------------------

    def caller_audio(self, payload_b64: str) -> None:
        """One carrier media frame (base64 mu-law). Never blocks: the queue is bounded."""
        if len(self._caller_audio) == CALLER_QUEUE_FRAMES:
            self.frames_dropped += 1
        self._caller_audio.append(payload_b64)
        self._caller_audio_ready.set()

    async def _send_caller_audio(self) -> None:
        queue, ready, send = (
            self._caller_audio,
            self._caller_audio_ready,
            self.session.send_audio_b64,
        )
        while True:
            await ready.wait()
            while queue:
                if not self._connected:
                    break
                payload = queue.popleft()
                self._frames_in += 1
                try:
                    if self._frames_in & FRAME_SAMPLE_MASK != 1:
                        await send(payload)
                    else:
                        started = time.perf_counter()
                        await send(payload)
                        FRAME_SECONDS_TO_MODEL.observe(time.perf_counter() - started)
                except Exception:
                    # The socket is going away; the pump sees the close and reconnects.
                    break
            ready.clear()
            if queue and not self._connected:
                await asyncio.sleep(0.02)
                ready.set()

    async def dtmf(self, digit: str) -> None:
        self.event("dtmf", digit=digit)
        self._last_activity = time.monotonic()
        if self._connected:
            await self.session.send_text(DTMF_TEXT.format(digit=digit))

    def mark_played(self, name: str) -> None:
        mark = self._marks.pop(name, None)
        if mark is None:
            return  # a mark from before a clear, echoed late
        item_id, sent_bytes = mark
        if item_id == self._item_id:
            self._played_bytes = sent_bytes
            self._played_at = time.monotonic()

    # --- model -> carrier ---------------------------------------------------------------------

    async def _on_provider_event(self, event: Any) -> None:
        kind = type(event)
        if isinstance(event, AudioOut):
            await self._agent_audio(event)
        elif kind is SpeechStarted:
            await self._barge_in()
        elif kind is Transcript:
            self._transcript(event)
        elif kind is ResponseDone:
            await self._response_done(event)
        elif kind is ToolCall:
            task = asyncio.create_task(self._run_tool(event))
            self._tool_tasks.add(task)
            task.add_done_callback(self._tool_tasks.discard)
        elif kind is SpeechStopped:
            self._last_activity = time.monotonic()
        elif kind is ProviderError:
            self.event("provider_error", code=event.code, message=event.message)

    async def _agent_audio(self, event: AudioOut) -> None:
        if event.item_id != self._item_id:
            self._start_item(event.item_id)
        payload_b64 = getattr(event, "payload_b64", None)
        if payload_b64 is not None:
            nbytes = cast(EncodedAudio, event).nbytes
        else:
            payload_b64 = base64.b64encode(event.payload).decode()
            nbytes = len(event.payload)
        self._response_active = True
        self._frames_out += 1
        if self._frames_out & FRAME_SAMPLE_MASK != 1:
            await self._send_carrier(self.protocol.media(payload_b64))
        else:
            started = time.perf_counter()
            await self._send_carrier(self.protocol.media(payload_b64))
            FRAME_SECONDS_TO_CARRIER.observe(time.perf_counter() - started)
        self._sent_bytes += nbytes
        if self._sent_bytes - self._last_mark_bytes >= MARK_EVERY_MS * 8:
            await self._mark()

    def _start_item(self, item_id: str) -> None:
        self._item_id = item_id
        self._item_started_at = time.monotonic()
        self._agent_turn_start_ms = self._now_ms()
        self._sent_bytes = self._last_mark_bytes = self._played_bytes = 0
        self._played_at = 0.0

    async def _mark(self) -> None:
        self._mark_seq += 1
        name = f"m{self._mark_seq}"
        self._marks[name] = (self._item_id, self._sent_bytes)
        self._last_mark_bytes = self._sent_bytes
        await self._send_carrier(self.protocol.mark(name))

    @property
    def playing(self) -> bool:
        """Agent audio is queued at the carrier and not yet heard."""
        return bool(self._marks)

    def heard_ms(self) -> int:
        """How much of the current answer the caller has heard: the last echoed mark, plus
        the time since, never more than what was sent."""
        if not self._item_id:
            return 0
        if not self._marks:
            return self._sent_bytes // 8
        base_bytes = self._played_bytes
        base_time = self._played_at or self._item_started_at
        estimate = base_bytes / 8 + (time.monotonic() - base_time) * 1000
        return int(min(estimate, self._sent_bytes / 8))

    async def _barge_in(self) -> None:
        now = time.monotonic()
        self._last_activity = now
        self._silence_prompts = 0
        self._caller_speech_started_ms = self._now_ms()
        if not self._item_id or not (self.playing or self._response_active):
            return
        heard = self.heard_ms()
        await self._send_carrier(self.protocol.clear())
        item_id = self._item_id
        self._forget_playback()
        self.event("barge_in", item_id=item_id, heard_ms=heard)
        if self._connected:
            with contextlib.suppress(Exception):
                await self.session.interrupt(item_id=item_id, audio_end_ms=heard)

    def _forget_playback(self) -> None:
        self._marks.clear()
        self._item_id = ""
        self._sent_bytes = self._last_mark_bytes = self._played_bytes = 0
        self._response_active = False

    async def _response_done(self, event: ResponseDone) -> None:
        for key, value in (event.usage or {}).items():
            if isinstance(value, (int, float)):
                self.usage[key] = self.usage.get(key, 0) + value
        self._response_active = False
        if self._item_id and self._sent_bytes > self._last_mark_bytes:
            await self._mark()  # the end of the answer, so "fully played" is observable

    def _transcript(self, event: Transcript) -> None:
        now_ms = self._now_ms()
        if event.speaker == "caller":
            start = (
                self._caller_speech_started_ms
                if self._caller_speech_started_ms is not None
                else now_ms
            )
            self._caller_speech_started_ms = None
            self._last_activity = time.monotonic()
        else:
            start = self._agent_turn_start_ms
        text = event.text.strip()
        if not text:
            return
        self.history.append(event)
        turn = {"speaker": event.speaker, "text": text, "start_ms": start, "end_ms": now_ms}
        self.records.turns.append(turn)
        self.turns.append(turn)
        task = asyncio.create_task(self.hooks.publish({"type": "call.transcript", **turn}))
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)
        if event.speaker == "agent" and self.settings.end_call_phrases:
            lowered = text.lower()
            if any(
                phrase.lower() in lowered for phrase in self.settings.end_call_phrases if phrase
            ):
                self.event("end_call_phrase", text=text)
                self.request_hangup(reason="agent_hangup")

    # --- tools ----------------------------------------------------------------------------------

    async def _run_tool(self, call: ToolCall) -> None:
        outcome = await tool_run(
            self.tools.get(call.name),
            call,
            context=lambda: self._tool_context(self),
            log=self.log,
        )
        self.records.tools.append(
            {
                "name": call.name,
                "arguments": call.arguments,
                "result": outcome.result,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
        )
        if self._finishing or not self._connected:
            return
        output = outcome.output()
        with contextlib.suppress(Exception):
            await self.session.send_tool_result(call.call_id, output, is_error=bool(outcome.error))

    # --- call control (tools, timers, webhooks; the timers are in calls.bridge.timers) ----------

    async def transfer(self, *, to_number: str) -> None:
        self.event("transfer_requested", to_number=to_number)
        await self.hooks.transfer(to_number=to_number)
        # The carrier now plays the transfer and ends our stream; its close finalizes the call.
        self._end_reason_hint = "transferred"

    async def machine_detected(self) -> None:
        """Answering machine detection: leave the voicemail message, then hang up."""
        self.event("machine_detected")
        self._end_reason_hint = "voicemail"
        if self._item_id:
            await self._send_carrier(self.protocol.clear())
            if self._connected:
                with contextlib.suppress(Exception):
                    await self.session.interrupt(
                        item_id=self._item_id, audio_end_ms=self.heard_ms()
                    )
            self._forget_playback()
        if self.settings.voicemail_message and self._connected:
            await self.session.say(self.settings.voicemail_message)
            self._response_active = True
            self.request_hangup(reason="voicemail")
        else:
            await self.finish("voicemail")

    async def _apologize_and_end(self) -> None:
        self.event("apology")
        with contextlib.suppress(Exception):
            await self.hooks.apologize_and_end(message=APOLOGY)
        await self.finish("failed")

    # --- persistence ------------------------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self._flush()

    async def _flush(self) -> None:
        """Write what is buffered. The write runs in a task of its own, shielded: the flusher
        is cancelled when the call ends, maybe mid-write, and a cancelled database hop
        (``database_sync_to_async``) is dropped if its thread had not picked it up yet, so
        the batch, already taken off the buffer, would be lost. ``_end`` waits for it."""
        if not self.records:
            return
        write = asyncio.create_task(self._write(self.records.take()))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        await asyncio.shield(write)

    async def _write(self, batch: PendingRecords) -> None:
        try:
            await self.hooks.record(batch)
        except Exception as exc:
            # Keep them for the next attempt rather than lose the transcript.
            self.log.warning("bridge_flush_failed", error=repr(exc))
            self.records.turns[:0] = batch.turns
            self.records.tools[:0] = batch.tools
            self.records.events[:0] = batch.events
