"""A loopback fake of the OpenAI Realtime API (GA), speaking the real wire protocol.

The real ``openai`` SDK connects to it with ``AsyncOpenAI(api_key=..., base_url=fake.base_url)``
(docs/protocols.md, "OpenAI Realtime"). Two modes:

``script`` (tests)
    ``session.created`` on open, ``session.updated`` echoing the merged config, a toy energy
    VAD on appended mu-law (``input_audio_buffer.speech_started`` / ``speech_stopped`` /
    ``committed``, caller transcription), scripted answers (a greeting for the first
    ``response.create``, an answer after each caller turn, a tool call on chosen turns, a
    follow-up after ``function_call_output``, verbatim speech for "Say exactly: ..."),
    paced ``response.output_audio.delta`` in mu-law with transcript events and a
    ``response.done`` carrying ``usage``. ``conversation.item.truncate`` is checked against
    the audio really sent, ``response.cancel`` and barge-in cancel the running answer.
    Everything the client sent is recorded on :class:`FakeConnection` for assertions.

``echo`` (latency benchmark)
    Every appended audio chunk comes straight back as one output delta, by string slicing:
    no JSON parsing of appends at all.

In a test::

    async with FakeOpenAIRealtime(script=Script(speed=0)) as fake:
        config = SessionConfig(model="gpt-realtime", api_key=fake.api_key, base_url=fake.base_url)

As a process (benchmarks)::

    python -m tests.fakes.openai_realtime --port 9100 --mode echo
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

DEFAULT_API_KEY = "test-key"
SAY_PREFIX = "Say exactly:"


@dataclass
class Script:
    """What the scripted model says and how fast. Texts become tone audio of
    ``ms_per_char`` per character, sent in ``chunk_ms`` deltas ``speed`` times faster than
    real time (``speed=0``: as fast as the socket takes them)."""

    greeting: str = "Hello, thanks for calling. How can I help you today?"
    answers: list[str] = field(default_factory=lambda: ["Sure, I can help with that."])
    caller_transcripts: list[str] = field(
        default_factory=lambda: ["I have a question about my order."]
    )
    # Caller turn number (1-based) → (tool name, arguments): that turn is answered by a call.
    tool_calls: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    tool_followup: str = "Here is what I found: {output}"
    tool_call_linger: float = 0.05  # seconds between function_call_arguments.done and response.done
    ms_per_char: int = 40
    chunk_ms: int = 100
    speed: float = 4.0
    # Mean mu-law level (0..127, see _mulaw_level) above which a chunk counts as speech.
    vad_threshold: int = 40


@dataclass
class FakeConnection:
    """One client connection and everything it sent."""

    path: str
    model: str
    headers: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    raw_appends: list[str] = field(default_factory=list)
    audio_in: bytearray = field(default_factory=bytearray)
    session: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    item_audio_ms: dict[str, int] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    appends: int = 0
    closed: bool = False

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("type") == event_type]

    def sent_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e.get("type") == event_type]


# --- audio helpers (independent of agents.realtime.audio on purpose: it must not share its bugs)


def _mulaw_level(chunk: bytes) -> float:
    """Mean loudness code of mu-law bytes: 0 for silence (0xFF/0x7F) up to 127 at full scale."""
    if not chunk:
        return 0.0
    codes = np.frombuffer(chunk, dtype=np.uint8)
    return float(np.mean(0x7F - (codes & 0x7F)))


def _tone_mulaw(ms: int, *, freq: float = 220.0, amplitude: float = 0.3) -> bytes:
    """A tone in (continuous-formula, approximately G.711) mu-law; enough for a fake voice."""
    n = 8 * ms
    x = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / 8000)
    y = np.sign(x) * np.log1p(255 * np.abs(x)) / math.log(256)
    mag = np.minimum((np.abs(y) * 128).astype(np.int32), 127)
    sign = np.where(y < 0, 0x00, 0x80)
    return ((sign | mag) ^ 0xFF).astype(np.uint8).tobytes()


class FakeOpenAIRealtime:
    """The fake server. Use as ``async with`` in a test's loop, or :meth:`start_in_thread`."""

    def __init__(
        self,
        *,
        mode: str = "script",
        script: Script | None = None,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if mode not in ("script", "echo"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.script = script or Script()
        self.api_key = api_key
        self.host = host
        self.port = port
        self.connections: list[FakeConnection] = []
        self._server: Server | None = None
        self._sockets: dict[int, ServerConnection] = {}
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> FakeOpenAIRealtime:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_request,
            compression=None,
            max_size=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeOpenAIRealtime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> FakeOpenAIRealtime:
        """Serve from a daemon thread with its own loop (for synchronous callers)."""
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-openai-realtime", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop_thread(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- test helpers -------------------------------------------------------------------------

    @property
    def current(self) -> FakeConnection:
        return self.connections[-1]

    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:
        """Poll until ``predicate()`` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("fake OpenAI: condition not met in time")
            await asyncio.sleep(0.005)

    async def wait_for_received(
        self, event_type: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until the latest connection received ``count`` client events of a type."""
        await self.wait_for(
            lambda: self.connections and len(self.current.of_type(event_type)) >= count,
            timeout=timeout,
        )
        return self.current.of_type(event_type)

    async def drop(self) -> None:
        """Kill the latest connection without a close frame (a network drop)."""
        ws = self._sockets[id(self.current)]
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # Served from start_in_thread(): the transport belongs to that loop.
            self._loop.call_soon_threadsafe(ws.transport.abort)
        else:
            ws.transport.abort()
        await asyncio.sleep(0)

    # --- handshake ----------------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != "/v1/realtime":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if not parse_qs(url.query).get("model"):
            return connection.respond(HTTPStatus.BAD_REQUEST, "missing model\n")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid api key\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        url = urlsplit(ws.request.path)
        conn = FakeConnection(
            path=ws.request.path,
            model=parse_qs(url.query)["model"][0],
            headers=dict(ws.request.headers.raw_items()),
        )
        self.connections.append(conn)
        self._sockets[id(conn)] = ws
        try:
            if self.mode == "echo":
                await _EchoSession(ws, conn).run()
            else:
                await _ScriptSession(self, ws, conn).run()
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"


def _default_session(model: str) -> dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_fake",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "create_response": True,
                    "interrupt_response": True,
                    "idle_timeout_ms": None,
                },
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
    }


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class _EchoSession:
    """Echo mode: appended audio comes straight back as output deltas."""

    DELTA_PREFIX = (
        '{"type":"response.output_audio.delta","event_id":"event_echo","response_id":"resp_echo",'
        '"item_id":"item_echo","output_index":0,"content_index":0,"delta":"'
    )

    def __init__(self, ws: ServerConnection, conn: FakeConnection) -> None:
        self.ws = ws
        self.conn = conn

    async def run(self) -> None:
        ws, conn = self.ws, self.conn
        session = _default_session(conn.model)
        await ws.send(
            json.dumps({"type": "session.created", "event_id": "event_0", "session": session})
        )
        prefix = self.DELTA_PREFIX
        async for message in ws:
            if isinstance(message, bytes):
                message = message.decode()
            if "input_audio_buffer.append" in message[:64]:
                start = message.find('"', message.find('"audio"') + 7) + 1
                await ws.send(prefix + message[start : message.find('"', start)] + '"}')
                conn.appends += 1
                continue
            event = json.loads(message)
            conn.received.append(event)
            if event.get("type") == "session.update":
                _merge(session, event.get("session", {}))
                await ws.send(
                    json.dumps(
                        {"type": "session.updated", "event_id": "event_1", "session": session}
                    )
                )


class _ScriptSession:
    """Script mode: one connection's conversation state and behaviour."""

    def __init__(
        self, server: FakeOpenAIRealtime, ws: ServerConnection, conn: FakeConnection
    ) -> None:
        self.server = server
        self.script = server.script
        self.ws = ws
        self.conn = conn
        conn.session = _default_session(conn.model)
        # VAD state, on the input audio clock (ms of audio appended so far).
        self.audio_ms = 0
        self.speaking = False
        self.speech_start_ms = 0
        self.silence_ms = 0
        self.user_item_id = ""
        self.caller_turns = 0
        self.tool_done_turns: set[int] = set()
        # The running answer.
        self.response: dict[str, Any] | None = None
        self.response_task: asyncio.Task[None] | None = None

    def new_id(self, prefix: str) -> str:
        return self.server.next_id(prefix)

    async def send(self, event: dict[str, Any]) -> None:
        event = {"type": event.pop("type"), "event_id": self.new_id("event"), **event}
        self.conn.sent.append(event)
        await self.ws.send(json.dumps(event))

    async def error(
        self, code: str, message: str, *, param: str | None = None, event_id: str | None = None
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event_id,
                },
            }
        )

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.conn.session})
        try:
            async for message in self.ws:
                try:
                    event = json.loads(message)
                except ValueError:
                    await self.error("invalid_json", "The server could not parse the message.")
                    continue
                self.conn.received.append(event)
                await self.dispatch(event)
        finally:
            if self.response_task is not None:
                self.response_task.cancel()

    async def dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        client_event_id = event.get("event_id")
        if kind == "input_audio_buffer.append":
            await self.on_append(event)
        elif kind == "session.update":
            session = event.get("session") or {}
            if session.get("type") != "realtime":
                await self.error(
                    "missing_required_parameter",
                    "Missing required parameter: 'session.type'.",
                    param="session.type",
                    event_id=client_event_id,
                )
                return
            _merge(self.conn.session, session)
            await self.send({"type": "session.updated", "session": self.conn.session})
        elif kind == "input_audio_buffer.commit":
            await self.commit(self.user_item_id or self.new_id("item"))
        elif kind == "input_audio_buffer.clear":
            self.speaking = False
            await self.send({"type": "input_audio_buffer.cleared"})
        elif kind == "conversation.item.create":
            item = dict(event.get("item") or {})
            item.setdefault("id", self.new_id("item"))
            await self.add_item(item)
        elif kind == "conversation.item.truncate":
            await self.on_truncate(event)
        elif kind == "response.create":
            if self.response is not None:
                await self.error(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {self.response['id']}.",
                    event_id=client_event_id,
                )
                return
            self.start_response(event.get("response") or {})
        elif kind == "response.cancel":
            if self.response is None:
                await self.error(
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    event_id=client_event_id,
                )
                return
            await self.cancel_response("client_cancelled")
        else:
            await self.error(
                "invalid_value",
                f"Invalid value: '{kind}'. Supported values are client event types.",
                param="type",
                event_id=client_event_id,
            )

    # --- input audio and the toy VAD ----------------------------------------------------------

    def turn_detection(self) -> dict[str, Any] | None:
        return self.conn.session["audio"]["input"].get("turn_detection")

    async def on_append(self, event: dict[str, Any]) -> None:
        payload = event.get("audio", "")
        self.conn.raw_appends.append(payload)
        self.conn.appends += 1
        try:
            chunk = base64.b64decode(payload, validate=True)
        except ValueError:
            await self.error("invalid_value", "Invalid base64 audio.", param="audio")
            return
        self.conn.audio_in += chunk
        chunk_ms = len(chunk) // 8
        start_ms = self.audio_ms
        self.audio_ms += chunk_ms
        detection = self.turn_detection()
        if not detection:
            return
        loud = _mulaw_level(chunk) >= self.script.vad_threshold
        if loud and not self.speaking:
            self.speaking = True
            self.silence_ms = 0
            self.speech_start_ms = max(0, start_ms - int(detection.get("prefix_padding_ms") or 0))
            self.user_item_id = self.new_id("item")
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": self.speech_start_ms,
                    "item_id": self.user_item_id,
                }
            )
            if self.response is not None and detection.get("interrupt_response", True):
                await self.cancel_response("turn_detected")
        elif self.speaking and not loud:
            self.silence_ms += chunk_ms
            if self.silence_ms >= int(detection.get("silence_duration_ms") or 500):
                self.speaking = False
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": self.audio_ms - self.silence_ms,
                        "item_id": self.user_item_id,
                    }
                )
                await self.commit(self.user_item_id)
                if detection.get("create_response", True) and self.response is None:
                    self.start_response({})
        elif loud:
            self.silence_ms = 0

    async def commit(self, item_id: str) -> None:
        previous = self.conn.items[-1]["id"] if self.conn.items else None
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        self.caller_turns += 1
        transcripts = self.script.caller_transcripts
        text = transcripts[(self.caller_turns - 1) % len(transcripts)] if transcripts else ""
        item = {
            "id": item_id,
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
            "_turn": self.caller_turns,
            "_transcript": text,
        }
        await self.add_item(item)
        if self.conn.session["audio"]["input"].get("transcription"):
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": 1.0},
                }
            )

    async def add_item(self, item: dict[str, Any]) -> None:
        previous = self.conn.items[-1]["id"] if self.conn.items else None
        self.conn.items.append(item)
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": public}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": public}
        )

    async def on_truncate(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id", "")
        end_ms = int(event.get("audio_end_ms", 0))
        if item_id not in self.conn.item_audio_ms:
            await self.error(
                "item_truncate_invalid_item_id",
                f"Item with item_id '{item_id}' not found or is not an assistant audio item.",
                param="item_id",
                event_id=event.get("event_id"),
            )
            return
        sent_ms = self.conn.item_audio_ms[item_id]
        if end_ms > sent_ms:
            await self.error(
                "invalid_value",
                f"Audio content of {sent_ms}ms is already shorter than {end_ms}ms",
                param="audio_end_ms",
                event_id=event.get("event_id"),
            )
            return
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": event.get("content_index", 0),
                "audio_end_ms": end_ms,
            }
        )

    # --- answers ------------------------------------------------------------------------------

    def plan(self, params: dict[str, Any]) -> tuple[str, Any]:
        """Decide what this response does: ("speak", text) or ("tool", (name, args))."""
        instructions = params.get("instructions") or ""
        if instructions.startswith(SAY_PREFIX):
            return "speak", instructions[len(SAY_PREFIX) :].strip()
        last = self.conn.items[-1] if self.conn.items else None
        if last and last.get("type") == "function_call_output":
            return "speak", self.script.tool_followup.format(output=last.get("output", ""))
        turns = [i for i in self.conn.items if i.get("role") == "user"]
        if not turns:
            return "speak", self.script.greeting
        turn = int(turns[-1].get("_turn") or len(turns))
        if turn in self.script.tool_calls and turn not in self.tool_done_turns:
            self.tool_done_turns.add(turn)
            return "tool", self.script.tool_calls[turn]
        answers = self.script.answers
        return "speak", answers[(turn - 1) % len(answers)]

    def start_response(self, params: dict[str, Any]) -> None:
        kind, what = self.plan(params)
        self.response = {"id": self.new_id("resp"), "object": "realtime.response", "output": []}
        self.response_task = asyncio.create_task(self.run_response(self.response, kind, what))

    async def run_response(self, response: dict[str, Any], kind: str, what: Any) -> None:
        await self.send(
            {"type": "response.created", "response": {**response, "status": "in_progress"}}
        )
        if kind == "tool":
            await self.call_tool(response, *what)
        else:
            await self.speak(response, what)
        self.response = None
        self.response_task = None
        await self.finish(response, "completed", None)

    async def call_tool(self, response: dict[str, Any], name: str, args: dict[str, Any]) -> None:
        item = {
            "id": self.new_id("item"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": self.new_id("call"),
            "name": name,
            "arguments": "",
        }
        self.conn.items.append(item)
        response["output"].append(item)
        ids = {"response_id": response["id"], "output_index": 0}
        await self.send({"type": "response.output_item.added", **ids, "item": dict(item)})
        arguments = json.dumps(args)
        await self.send(
            {
                "type": "response.function_call_arguments.delta",
                **ids,
                "item_id": item["id"],
                "call_id": item["call_id"],
                "delta": arguments,
            }
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **ids,
                "item_id": item["id"],
                "call_id": item["call_id"],
                "name": name,
                "arguments": arguments,
            }
        )
        # The real server takes a moment between the arguments and response.done; a client
        # that sends response.create in that window gets "already has an active response".
        await asyncio.sleep(self.script.tool_call_linger)
        item.update(status="completed", arguments=arguments)
        await self.send({"type": "response.output_item.done", **ids, "item": item})

    async def speak(self, response: dict[str, Any], text: str) -> None:
        item = {
            "id": self.new_id("item"),
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
            "_text": text,
        }
        self.conn.items.append(item)
        response["output"].append(item)
        self.conn.item_audio_ms[item["id"]] = 0
        ids = {"response_id": response["id"], "item_id": item["id"], "output_index": 0}
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response["id"],
                "output_index": 0,
                "item": public,
            }
        )
        await self.send(
            {
                "type": "response.content_part.added",
                **ids,
                "content_index": 0,
                "part": {"type": "audio", "transcript": ""},
            }
        )
        await self.send(
            {
                "type": "response.output_audio_transcript.delta",
                **ids,
                "content_index": 0,
                "delta": text,
            }
        )
        script = self.script
        total_ms = max(script.chunk_ms, len(text) * script.ms_per_char)
        tone = _tone_mulaw(script.chunk_ms)
        sent = 0
        while sent < total_ms:
            step = min(script.chunk_ms, total_ms - sent)
            chunk = tone[: 8 * step]
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **ids,
                    "content_index": 0,
                    "delta": base64.b64encode(chunk).decode(),
                }
            )
            sent += step
            self.conn.item_audio_ms[item["id"]] = sent
            if script.speed > 0:
                await asyncio.sleep(step / 1000 / script.speed)
            else:
                await asyncio.sleep(0)
        await self.send({"type": "response.output_audio.done", **ids, "content_index": 0})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                **ids,
                "content_index": 0,
                "transcript": text,
            }
        )
        item["status"] = "completed"
        item["content"] = [{"type": "output_audio", "transcript": text}]
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response["id"],
                "output_index": 0,
                "item": public,
            }
        )

    async def cancel_response(self, reason: str) -> None:
        response, task = self.response, self.response_task
        self.response = None
        self.response_task = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if response is not None:
            for item in response["output"]:
                if item.get("status") == "in_progress":
                    item["status"] = "incomplete"
            await self.finish(response, "cancelled", reason)

    async def finish(self, response: dict[str, Any], status: str, reason: str | None) -> None:
        audio_ms = sum(self.conn.item_audio_ms.get(i["id"], 0) for i in response["output"])
        text = " ".join(i.get("_text", "") for i in response["output"])
        output_tokens = audio_ms // 50 + len(text) // 4 + 1
        input_tokens = 100 + 20 * self.caller_turns
        done = {
            "id": response["id"],
            "object": "realtime.response",
            "status": status,
            "status_details": None if reason is None else {"type": status, "reason": reason},
            "output": [
                {k: v for k, v in i.items() if not k.startswith("_")} for i in response["output"]
            ],
            "usage": {
                "total_tokens": input_tokens + output_tokens,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "input_token_details": {
                    "text_tokens": 100,
                    "audio_tokens": input_tokens - 100,
                    "image_tokens": 0,
                    "cached_tokens": 0,
                },
                "output_token_details": {
                    "text_tokens": len(text) // 4 + 1,
                    "audio_tokens": audio_ms // 50,
                },
            },
        }
        await self.send({"type": "response.done", "response": done})


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback fake of the OpenAI Realtime API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=["echo", "script"], default="echo")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args()

    async def serve_forever() -> None:
        fake = FakeOpenAIRealtime(
            mode=args.mode, api_key=args.api_key, host=args.host, port=args.port
        )
        await fake.start()
        print(f"fake OpenAI Realtime ({args.mode}) on {fake.base_url}", flush=True)
        await asyncio.Future()

    # As a process it shares the machine with what it measures: uvloop makes it cheaper.
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve_forever())


if __name__ == "__main__":
    main()
