"""OpenAI Realtime (GA API) over the official ``openai`` SDK's WebSocket client.

Audio is G.711 mu-law both ways (``audio/pcmu``), so carrier audio passes through untouched.

The audio path avoids the SDK's typed layer, which would build a pydantic model per event:

* outbound, :meth:`OpenAIRealtimeSession.send_audio_b64` forwards the carrier's base64 string
  inside a pre-built JSON text frame through ``connection.send_raw`` (no decode, no re-encode,
  no ``json.dumps``);
* inbound, :meth:`OpenAIRealtimeSession.events` reads raw frames with
  ``connection.recv_bytes()`` and parses them with ``orjson``. Each audio delta becomes an
  :class:`AudioOutB64` that keeps the base64 string; ``payload`` is decoded only if asked for.

Control messages (session.update, items, response.create, truncate...) are rare and go through
the SDK's typed helpers.

One session object may be connected again after a drop: ``connect(history=...)`` opens a new
socket and replays the transcript; then call :meth:`events` again (each iteration ends with one
:class:`Closed`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from openai import AsyncOpenAI, OpenAIError
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from agents.realtime.audio import b64_decoded_len
from agents.realtime.base import (
    AudioOut,
    Closed,
    ProviderError,
    RealtimeEvent,
    RealtimeSession,
    RealtimeSessionError,
    ResponseDone,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    Transcript,
)

log = logging.getLogger(__name__)

DEFAULT_VOICE = "marin"
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
DEFAULT_TURN_DETECTION: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
CONNECT_TIMEOUT = 10.0
SAY_INSTRUCTIONS = "Say exactly: {text}"

# A base64 string needs no JSON escaping, so the append frame is built by concatenation.
_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL = '"}'
_AUDIO_DELTA = "response.output_audio.delta"
# Our own response.cancel racing the server's VAD cancel; harmless.
_IGNORED_ERRORS = frozenset({"response_cancel_not_active"})

# The base dataclass's ``payload`` slot: AudioOutB64 caches the decoded bytes in it.
_PAYLOAD_SLOT = AudioOut.__dict__["payload"]


class AudioOutB64(AudioOut):
    """An :class:`AudioOut` that keeps the provider's base64 string (``payload_b64``).

    A bridge that sends base64 anyway (Twilio ``media.payload``, Plivo ``playAudio``) forwards
    ``payload_b64`` as is and uses ``nbytes`` for its ms accounting (mu-law: bytes / 8);
    ``payload`` still works everywhere, decoded on first access and cached. Check with
    ``isinstance(event, AudioOutB64)`` or ``getattr(event, "payload_b64", None)``.
    """

    __slots__ = ("payload_b64", "nbytes")

    def __init__(self, payload_b64: str, item_id: str) -> None:
        self.payload_b64 = payload_b64
        self.item_id = item_id
        # Length of the decoded audio, computed from the base64 length.
        self.nbytes = b64_decoded_len(payload_b64)

    @property
    def payload(self) -> bytes:
        try:
            data: bytes = _PAYLOAD_SLOT.__get__(self, AudioOut)
        except AttributeError:
            data = base64.b64decode(self.payload_b64)
            _PAYLOAD_SLOT.__set__(self, data)
        return data

    @payload.setter
    def payload(self, data: bytes) -> None:
        # AudioOut's payload is writable; the base64 string and the length follow it.
        _PAYLOAD_SLOT.__set__(self, data)
        self.payload_b64 = base64.b64encode(data).decode()
        self.nbytes = len(data)

    def __repr__(self) -> str:
        return f"AudioOutB64(nbytes={self.nbytes}, item_id={self.item_id!r})"


@functools.lru_cache(maxsize=16)
def _client(api_key: str, base_url: str) -> AsyncOpenAI:
    # Building an AsyncOpenAI costs ~17 ms of CPU (its HTTP client and TLS context); the
    # realtime socket never uses that HTTP client, so one instance serves every call.
    return AsyncOpenAI(api_key=api_key or None, base_url=base_url or None, max_retries=0)


class OpenAIRealtimeSession(RealtimeSession):
    """One phone conversation with an OpenAI realtime model.

    ``config.extra`` knobs: ``turn_detection`` (dict merged over :data:`DEFAULT_TURN_DETECTION`,
    a ``semantic_vad`` dict replaces it, ``None`` turns VAD off), ``transcription_model``
    (falsy disables caller transcription), ``noise_reduction`` (``"near_field"`` default,
    ``"far_field"`` or ``None``), ``speed``, ``client`` (an ``AsyncOpenAI`` to use).
    ``config.temperature`` has no GA equivalent and is ignored.
    """

    provider = "openai"

    def __init__(self, config: SessionConfig) -> None:
        super().__init__(config)
        self._conn: AsyncRealtimeConnection | None = None
        self._send_text: Callable[[str], Awaitable[None]] | None = None
        self._closing = False
        self._reset_state()

    def _reset_state(self) -> None:
        self._response_active = False
        # Tool calls of the current answer not yet answered; the follow-up response.create
        # waits for all of them and for the answer to finish (else "active response" error).
        self._pending_calls: set[str] = set()
        self._emitted_calls: set[str] = set()
        self._queued_responses: list[dict[str, Any] | None] = []
        self._create_event_id = ""
        self._create_count = 0
        # Bytes of audio the server sent per assistant item: caps truncate's audio_end_ms.
        self._item_bytes: dict[str, int] = {}

    # --- connection ---------------------------------------------------------------------------

    async def connect(self, *, history: list[Transcript] | None = None) -> None:
        await self._drop_connection()
        self._closing = False
        self._reset_state()
        config = self.config
        try:
            client = config.extra.get("client") or _client(config.api_key, config.base_url)
            conn = await asyncio.wait_for(
                client.realtime.connect(model=config.model).enter(), CONNECT_TIMEOUT
            )
        except (OSError, InvalidHandshake, OpenAIError, TimeoutError) as exc:
            raise RealtimeSessionError(f"OpenAI realtime connect failed: {exc}") from exc
        try:
            first = orjson.loads(await asyncio.wait_for(conn.recv_bytes(), CONNECT_TIMEOUT))
            if first.get("type") != "session.created":
                raise RealtimeSessionError(f"OpenAI realtime refused the session: {first}")
            await conn.session.update(session=self.session_payload())
            for turn in history or ():
                if turn.text:
                    await conn.conversation.item.create(item=_history_item(turn))
        except (ConnectionClosed, OSError, TimeoutError, ValueError) as exc:
            await _quiet_close(conn)
            raise RealtimeSessionError(f"OpenAI realtime session setup failed: {exc}") from exc
        except BaseException:
            await _quiet_close(conn)
            raise
        self._conn = conn
        self._send_text = _text_sender(conn)

    def session_payload(self) -> dict[str, Any]:
        """The ``session`` object of ``session.update`` for a phone call."""
        config, extra = self.config, self.config.extra
        audio_in: dict[str, Any] = {
            "format": {"type": "audio/pcmu"},
            "turn_detection": _turn_detection(extra),
        }
        transcription_model = extra.get("transcription_model", DEFAULT_TRANSCRIPTION_MODEL)
        if transcription_model:
            transcription: dict[str, Any] = {"model": transcription_model}
            if config.language:
                transcription["language"] = config.language.split("-")[0].lower()
            audio_in["transcription"] = transcription
        noise_reduction = extra.get("noise_reduction", "near_field")
        if noise_reduction:
            audio_in["noise_reduction"] = {"type": noise_reduction}
        audio_out: dict[str, Any] = {
            "format": {"type": "audio/pcmu"},
            "voice": config.voice or DEFAULT_VOICE,
        }
        if "speed" in extra:
            audio_out["speed"] = extra["speed"]
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": config.instructions,
            "audio": {"input": audio_in, "output": audio_out},
        }
        if config.tools:
            session["tools"] = [
                {
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }
                for tool in config.tools
            ]
            session["tool_choice"] = "auto"
        return session

    async def close(self) -> None:
        self._closing = True
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _quiet_close(conn)

    def _connection(self) -> AsyncRealtimeConnection:
        if self._conn is None:
            raise RealtimeSessionError("OpenAI realtime session is not connected")
        return self._conn

    # --- caller audio -------------------------------------------------------------------------

    async def send_audio(self, mulaw: bytes) -> None:
        await self.send_audio_b64(base64.b64encode(mulaw).decode("ascii"))

    async def send_audio_b64(self, payload_b64: str) -> None:
        """Forward a carrier's base64 mu-law payload unchanged (the fast path).

        The string is spliced into the JSON frame, so anything that could break out of the
        JSON string is refused; valid base64 never contains ``"`` or ``\\``.
        """
        if '"' in payload_b64 or "\\" in payload_b64:
            raise ValueError("audio payload is not base64")
        send = self._send_text
        if send is None or self._conn is None:
            raise RealtimeSessionError("OpenAI realtime session is not connected")
        await send(_APPEND_HEAD + payload_b64 + _APPEND_TAIL)

    # --- events -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        conn = self._conn
        if conn is None:
            yield Closed(unexpected=not self._closing, reason="not connected")
            return
        recv = _bytes_receiver(conn)
        loads = orjson.loads
        item_bytes = self._item_bytes
        while True:
            try:
                raw = await recv()
            except ConnectionClosed as exc:
                if self._conn is conn:
                    self._conn = None
                yield Closed(unexpected=not self._closing, reason=_close_reason(exc, self._closing))
                return
            try:
                event = loads(raw)
                kind = event["type"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("openai realtime: unparseable event %.200r", raw)
                continue
            if kind == _AUDIO_DELTA:
                out = AudioOutB64(event["delta"], event["item_id"])
                item_bytes[out.item_id] = item_bytes.get(out.item_id, 0) + out.nbytes
                yield out
                continue
            for translated in await self._translate(kind, event):
                yield translated

    async def _translate(self, kind: str, event: dict[str, Any]) -> list[RealtimeEvent]:
        if kind == "input_audio_buffer.speech_started":
            return [SpeechStarted(audio_start_ms=event.get("audio_start_ms"))]
        if kind == "input_audio_buffer.speech_stopped":
            return [SpeechStopped(audio_end_ms=event.get("audio_end_ms"))]
        if kind == "conversation.item.input_audio_transcription.completed":
            return [Transcript("caller", event.get("transcript") or "", event.get("item_id", ""))]
        if kind == "response.output_audio_transcript.done":
            return [Transcript("agent", event.get("transcript") or "", event.get("item_id", ""))]
        if kind == "response.created":
            self._response_active = True
            return []
        if kind == "response.function_call_arguments.done":
            return await self._tool_call(event)
        if kind == "response.done":
            return await self._response_done(event.get("response") or {})
        if kind == "error":
            error = event.get("error") or {}
            code = error.get("code") or error.get("type") or "error"
            if self._create_event_id and error.get("event_id") == self._create_event_id:
                self._response_active = False  # our response.create was refused
            if code in _IGNORED_ERRORS:
                log.debug("openai realtime: ignored error %s", error)
                return []
            return [ProviderError(code=code, message=error.get("message") or "")]
        return []

    async def _tool_call(self, event: dict[str, Any]) -> list[RealtimeEvent]:
        call_id = event.get("call_id") or ""
        if call_id in self._emitted_calls:
            return []
        self._emitted_calls.add(call_id)
        name = event.get("name") or ""
        try:
            arguments = orjson.loads(event.get("arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments are not a JSON object")
        except ValueError as exc:
            # Never run a tool on arguments we could not read: tell the model, let it retry.
            await self._send_function_output(
                call_id, f'{{"error": "invalid JSON arguments: {exc}"}}'
            )
            self._request_response(None)
            return [ProviderError(code="invalid_tool_arguments", message=f"{name}: {exc}")]
        self._pending_calls.add(call_id)
        return [ToolCall(call_id=call_id, name=name, arguments=arguments)]

    async def _response_done(self, response: dict[str, Any]) -> list[RealtimeEvent]:
        self._response_active = False
        out: list[RealtimeEvent] = []
        message_id = ""
        for item in response.get("output") or ():
            if item.get("type") == "function_call":
                # Normally announced by function_call_arguments.done already.
                out += await self._tool_call(item)
            elif item.get("type") == "message" and not message_id:
                message_id = item.get("id") or ""
        out.append(
            ResponseDone(
                item_id=message_id,
                usage=response.get("usage") or {},
                interrupted=response.get("status") == "cancelled",
            )
        )
        await self._flush_queued_responses()
        return out

    # --- control ------------------------------------------------------------------------------

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        # The Realtime API has no error channel for function output: an error is an output
        # the model can read as one.
        if is_error:
            output = orjson.dumps({"error": output}).decode()
        await self._send_function_output(call_id, output)
        self._pending_calls.discard(call_id)
        self._request_response(None)
        await self._flush_queued_responses()

    async def interrupt(self, *, item_id: str, audio_end_ms: int) -> None:
        conn = self._connection()
        if self._response_active:
            await conn.response.cancel()
        if not item_id:
            return
        sent = self._item_bytes.get(item_id)
        if sent is not None:
            audio_end_ms = min(audio_end_ms, sent // 8)
        await conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=max(0, audio_end_ms)
        )

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        await self._connection().conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        )
        if respond:
            self._request_response(None)
            await self._flush_queued_responses()

    async def say(self, text: str) -> None:
        self._request_response({"instructions": SAY_INSTRUCTIONS.format(text=text)})
        await self._flush_queued_responses()

    async def _send_function_output(self, call_id: str, output: str) -> None:
        await self._connection().conversation.item.create(
            item={"type": "function_call_output", "call_id": call_id, "output": output}
        )

    def _request_response(self, params: dict[str, Any] | None) -> None:
        # A plain follow-up is only needed once however many asked for it.
        if params is None and None in self._queued_responses:
            return
        self._queued_responses.append(params)

    async def _flush_queued_responses(self) -> None:
        """Send the next queued response.create once no answer is running and every tool
        call of the last answer has its result."""
        if self._response_active or self._pending_calls or not self._queued_responses:
            return
        params = self._queued_responses.pop(0)
        self._response_active = True
        self._create_count += 1
        self._create_event_id = event_id = f"resp_create_{self._create_count}"
        conn = self._connection()
        if params is None:
            await conn.response.create(event_id=event_id)
        else:
            await conn.response.create(response=params, event_id=event_id)  # type: ignore[arg-type]


# The SDK's send_raw / recv_bytes wrap the websockets connection with its own reconnection
# bookkeeping, run for every frame (an anyio task lookup and a send-queue check: ~8% of the
# media server's CPU in bench/bench_bridge.py). That machinery is only armed when
# ``on_reconnecting`` is given, which we never do (the bridge reconnects itself, with the
# transcript), so both reduce to the websockets connection's own send/recv. Use those
# directly, and fall back to the SDK's methods if its internals ever look different.


def _websocket_of(conn: AsyncRealtimeConnection) -> Any | None:
    ws = getattr(conn, "_connection", None)
    if getattr(conn, "_make_ws", None) is not None or ws is None:
        return None
    if not (callable(getattr(ws, "send", None)) and callable(getattr(ws, "recv", None))):
        return None
    return ws


def _text_sender(conn: AsyncRealtimeConnection) -> Callable[[str], Awaitable[None]]:
    ws = _websocket_of(conn)
    return conn.send_raw if ws is None else ws.send


def _bytes_receiver(conn: AsyncRealtimeConnection) -> Callable[[], Awaitable[bytes]]:
    ws = _websocket_of(conn)
    return conn.recv_bytes if ws is None else functools.partial(ws.recv, decode=False)


def _turn_detection(extra: dict[str, Any]) -> dict[str, Any] | None:
    if "turn_detection" not in extra:
        return dict(DEFAULT_TURN_DETECTION)
    custom = extra["turn_detection"]
    if custom is None:
        return None
    if custom.get("type", "server_vad") != "server_vad":
        return dict(custom)
    return {**DEFAULT_TURN_DETECTION, **custom}


def _history_item(turn: Transcript) -> dict[str, Any]:
    if turn.speaker == "agent":
        return {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": turn.text}],
        }
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": turn.text}],
    }


def _close_reason(exc: ConnectionClosed, closing: bool) -> str:
    if closing:
        return "closed by client"
    if exc.rcvd is not None:
        return f"closed by server: {exc.rcvd.code} {exc.rcvd.reason}".strip()
    if exc.sent is not None:
        return f"closed by us: {exc.sent.code} {exc.sent.reason}".strip()
    return "connection lost"


async def _quiet_close(conn: AsyncRealtimeConnection) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: BLE001 - closing a dead socket may fail in many ways
        log.debug("openai realtime: error while closing", exc_info=True)
