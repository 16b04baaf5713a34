"""Gemini Live (``google-genai``) behind :class:`RealtimeSession`.

Audio: the caller's mu-law 8 kHz is decoded and upsampled to PCM16 16 kHz (Gemini's native input
rate); the model's PCM16 24 kHz is downsampled to 8 kHz through one persistent anti-aliasing
resampler per session and encoded to mu-law. Both converters live in :mod:`agents.realtime.audio`.

Turns: Gemini has no item ids, so each model turn gets a local one (``gemini-<n>``), opened by
the turn's first audio or output transcription and closed by ``turnComplete`` or
``interrupted``. Transcripts are buffered and emitted when the turn closes.

Barge-in: Gemini runs its own VAD and cuts its answer itself (``serverContent.interrupted``);
there is no truncate call, so ``audio_end_ms`` cannot be sent anywhere. The server keeps in its
context what it had *generated* when it stopped, which runs ahead of what the caller heard.
:meth:`GeminiLiveSession.interrupt` therefore only drops, locally, the rest of the turn's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import websockets
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from agents.realtime.audio import MulawTo16k, PcmToMulaw8k
from agents.realtime.base import (
    AudioOut,
    Closed,
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

logger = logging.getLogger(__name__)

# The Gemini API serves the Live WebSocket only on v1beta; the SDK's default (v1) is refused.
API_VERSION = "v1beta"
DEFAULT_MODEL = "gemini-3.1-flash-live-preview"
INPUT_MIME_TYPE = "audio/pcm;rate=16000"
OUTPUT_RATE = 24000
CONNECT_TIMEOUT_S = 10.0

# JSON-schema keywords Gemini's ``Schema`` understands. Live ignores ``parameters_json_schema``
# (the model then calls tools with empty arguments: googleapis/python-genai#1147), so tool
# parameters go through ``parameters`` and everything else (additionalProperties, $schema,
# default, $ref...) is dropped.
_SCHEMA_KEYS = {
    "type": "type",
    "format": "format",
    "title": "title",
    "description": "description",
    "nullable": "nullable",
    "enum": "enum",
    "items": "items",
    "properties": "properties",
    "required": "required",
    "anyOf": "any_of",
    "any_of": "any_of",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
}


def gemini_schema(schema: dict[str, Any]) -> types.Schema:
    """Reduce a JSON schema to the subset Gemini Live accepts for function parameters."""
    return types.Schema.model_validate(_reduce_schema(schema))


def _reduce_schema(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        name = _SCHEMA_KEYS.get(key)
        if name is None:
            continue
        if name == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            value = kinds[0] if kinds else "string"
        elif name == "properties":
            value = {prop: _reduce_schema(sub) for prop, sub in value.items()}
        elif name == "items":
            value = _reduce_schema(value)
        elif name == "any_of":
            value = [_reduce_schema(sub) for sub in value]
        elif name == "enum":
            # Gemini only takes string enums.
            value = [str(item) for item in value]
            out["type"] = "string"
        out[name] = value
    if "enum" in out:
        out["type"] = "string"
    return out


class GeminiLiveSession(RealtimeSession):
    """One Gemini Live conversation.

    ``config.extra`` keys: ``ssl_context`` (trust for a loopback fake), ``language_code``
    (only for models that accept one; native-audio models choose the language themselves),
    ``realtime_input_config`` (a ``types.RealtimeInputConfig`` or dict, server VAD tuning),
    ``connect_timeout`` (seconds).
    """

    provider = "gemini"

    def __init__(self, config: SessionConfig) -> None:
        super().__init__(config)
        self._client: genai.Client | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: Any = None  # google.genai.live.AsyncSession
        self._upsampler = MulawTo16k()
        self._downsampler = PcmToMulaw8k(OUTPUT_RATE)
        self._output_mime = f"audio/pcm;rate={OUTPUT_RATE}"
        self._turns = 0
        self._item_id = ""  # the open model turn, "" between turns
        self._muted_item = ""  # a turn cut locally by interrupt(): its audio is dropped
        self._caller_text: list[str] = []
        self._agent_text: list[str] = []
        self._caller_speaking = False
        self._usage: dict[str, Any] = {}  # the open turn's usage
        self._late_usage: dict[str, Any] = {}  # usage that arrived with no turn open
        self._tool_names: dict[str, str] = {}
        self._going_away = ""
        self._closing = False

    # --- lifecycle ------------------------------------------------------------------------

    async def connect(self, *, history: list[Transcript] | None = None) -> None:
        """Open the live session. May be called again after a drop (then iterate
        :meth:`events` again); ``history`` seeds the new session's context unanswered."""
        extra = self.config.extra
        turns = _history_turns(history or [])
        await self._discard_connection()
        try:
            self._client = genai.Client(
                api_key=self.config.api_key, http_options=self._http_options()
            )
        except ValueError as exc:  # no API key
            raise RealtimeSessionError(f"gemini: {exc}") from exc
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout(extra.get("connect_timeout", CONNECT_TIMEOUT_S)):
                session = await stack.enter_async_context(
                    self._client.aio.live.connect(
                        model=self.config.model or DEFAULT_MODEL,
                        config=self._live_config(with_history=bool(turns)),
                    )
                )
            if session.setup_complete is None:
                raise RealtimeSessionError("gemini: the server did not confirm the setup")
            if turns:
                # With initial_history_in_client_content the server takes these turns as context
                # without answering them; the conversation then goes on with realtime input.
                await session.send_client_content(turns=turns, turn_complete=True)
        except RealtimeSessionError:
            await stack.aclose()
            raise
        except (
            websockets.WebSocketException,
            genai_errors.APIError,
            OSError,
            TimeoutError,
        ) as exc:
            await stack.aclose()
            raise RealtimeSessionError(f"gemini: could not open a live session: {exc!r}") from exc
        self._stack = stack
        self._session = session
        self._closing = False

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        await self._discard_connection()

    async def _discard_connection(self) -> None:
        stack, client = self._stack, self._client
        self._stack = self._client = self._session = None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aio.aclose()
        # Whatever was in flight belongs to the old socket.
        self._upsampler.reset()
        self._downsampler.reset()
        self._item_id = self._muted_item = self._going_away = ""
        self._caller_text.clear()
        self._agent_text.clear()
        self._caller_speaking = False
        self._usage, self._late_usage = {}, {}
        self._tool_names.clear()

    # --- client -> Gemini ----------------------------------------------------------------

    async def send_audio(self, mulaw: bytes) -> None:
        pcm = self._upsampler.convert(mulaw)
        if pcm:
            await self._live().send_realtime_input(
                audio=types.Blob(data=pcm, mime_type=INPUT_MIME_TYPE)
            )

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        """Gemini reads ``output`` (or ``error``) from the response dict; JSON output is passed
        as structured data, anything else as a string."""
        name = self._tool_names.pop(call_id, None)
        if name is None:
            # Unknown, already answered, or cancelled by toolCallCancellation.
            logger.info("gemini: dropping result for unknown tool call %s", call_id)
            return
        try:
            value: Any = json.loads(output)
        except ValueError:
            value = output
        response = {"error": value} if is_error else {"output": value}
        await self._live().send_tool_response(
            function_responses=[types.FunctionResponse(id=call_id, name=name, response=response)]
        )

    async def interrupt(self, *, item_id: str, audio_end_ms: int) -> None:
        """Drop the rest of ``item_id``'s audio. Gemini has no truncate: ``audio_end_ms`` is not
        sent, and the server keeps the whole generated answer in its context. When Gemini's own
        VAD caused the barge-in the turn is already closed and this is a no-op."""
        if item_id and item_id == self._item_id:
            self._muted_item = item_id
            self._downsampler.reset()

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        await self._live().send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text=text)]),
            turn_complete=respond,
        )

    async def say(self, text: str) -> None:
        # Gemini cannot be made to speak verbatim text; instruct it in a user turn.
        instruction = f"[Say exactly this to the caller, then stop and listen: {text}]"
        await self.send_text(instruction, respond=True)

    # --- Gemini -> client ----------------------------------------------------------------

    def events(self) -> AsyncIterator[RealtimeEvent]:
        # Bound to the socket open now: a reconnect needs a new call.
        return self._events(self._live())

    async def _events(self, session: Any) -> AsyncIterator[RealtimeEvent]:
        reason = ""
        try:
            while True:
                # receive() ends after every turnComplete; keep reading until the socket closes.
                async for message in session.receive():
                    for event in self._on_message(message):
                        yield event
                    if self._going_away and not self._item_id:
                        # Let the open turn finish, then hand over so the bridge reconnects.
                        yield Closed(unexpected=True, reason=self._going_away)
                        await self.close()
                        return
        except genai_errors.APIError as exc:
            reason = f"{exc.code} {exc.message or exc.status or ''}".strip()
        except websockets.ConnectionClosed as exc:
            reason = str(exc)
        except Exception as exc:  # a frame the SDK cannot parse ends the session, not the call
            logger.exception("gemini: receive failed")
            reason = repr(exc)
        if self._going_away:
            reason = f"{self._going_away}; {reason}"
        yield Closed(unexpected=not self._closing, reason=reason)

    def _on_message(self, message: types.LiveServerMessage) -> list[RealtimeEvent]:
        out: list[RealtimeEvent] = []
        if message.usage_metadata is not None:
            self._on_usage(message.usage_metadata)
        activity = message.voice_activity
        if activity is not None and activity.voice_activity_type is not None:
            if activity.voice_activity_type == types.VoiceActivityType.ACTIVITY_START:
                self._caller_started(out)
            elif activity.voice_activity_type == types.VoiceActivityType.ACTIVITY_END:
                self._caller_speaking = False
                out.append(SpeechStopped())
        content = message.server_content
        if content is not None:
            if content.input_transcription is not None and content.input_transcription.text:
                self._caller_text.append(content.input_transcription.text)
            if content.model_turn is not None and content.model_turn.parts:
                for part in content.model_turn.parts:
                    blob = part.inline_data
                    if blob is not None and blob.data:
                        self._on_audio(blob, out)
            if content.output_transcription is not None and content.output_transcription.text:
                self._open_turn()
                self._agent_text.append(content.output_transcription.text)
            if content.interrupted:
                self._caller_started(out)
                self._finish_turn(out, interrupted=True)
            if content.turn_complete:
                self._finish_turn(out, interrupted=False)
        if message.tool_call is not None and message.tool_call.function_calls:
            self._flush_caller_text(out)
            for call in message.tool_call.function_calls:
                call_id = call.id or f"call-{len(self._tool_names)}"
                self._tool_names[call_id] = call.name or ""
                out.append(
                    ToolCall(call_id=call_id, name=call.name or "", arguments=dict(call.args or {}))
                )
        if message.tool_call_cancellation is not None:
            for call_id in message.tool_call_cancellation.ids or ():
                self._tool_names.pop(call_id, None)
        if message.go_away is not None:
            self._going_away = f"go_away (time left {message.go_away.time_left})"
        return out

    def _on_audio(self, blob: types.Blob, out: list[RealtimeEvent]) -> None:
        item_id = self._open_turn()
        if item_id == self._muted_item:
            return
        if blob.mime_type and blob.mime_type != self._output_mime:
            self._output_mime = blob.mime_type
            rate = _rate_of(blob.mime_type, OUTPUT_RATE)
            if rate != self._downsampler.in_rate:
                self._downsampler = PcmToMulaw8k(rate)
        payload = self._downsampler.convert(blob.data or b"")
        if payload:
            out.append(AudioOut(payload=payload, item_id=item_id))

    def _open_turn(self) -> str:
        if not self._item_id:
            self._turns += 1
            self._item_id = f"gemini-{self._turns}"
            self._caller_speaking = False
        return self._item_id

    def _caller_started(self, out: list[RealtimeEvent]) -> None:
        if not self._caller_speaking:
            self._caller_speaking = True
            out.append(SpeechStarted())

    def _flush_caller_text(self, out: list[RealtimeEvent]) -> None:
        text = "".join(self._caller_text).strip()
        self._caller_text.clear()
        if text:
            out.append(Transcript(speaker="caller", text=text))

    def _finish_turn(self, out: list[RealtimeEvent], *, interrupted: bool) -> None:
        self._flush_caller_text(out)
        item_id = self._item_id
        if not item_id:
            return  # e.g. the turnComplete that follows an interruption, or a tool-only turn
        muted = item_id == self._muted_item
        if interrupted or muted:
            self._downsampler.reset()
        else:
            tail = self._downsampler.flush()
            if tail:
                out.append(AudioOut(payload=tail, item_id=item_id))
        text = "".join(self._agent_text).strip()
        self._agent_text.clear()
        if text:
            out.append(Transcript(speaker="agent", text=text, item_id=item_id))
        usage = _add_usage(self._late_usage, self._usage) if self._late_usage else self._usage
        out.append(ResponseDone(item_id=item_id, usage=usage, interrupted=interrupted or muted))
        self._usage = {}
        self._late_usage = {}
        self._item_id = ""
        self._muted_item = ""

    def _on_usage(self, usage: types.UsageMetadata) -> None:
        counts = usage.model_dump(mode="json", exclude_none=True)
        if self._item_id:
            # Gemini reports usage once per answer, on its turnComplete frame (last one wins).
            self._usage = counts
        else:
            # Usage of a turn already closed by `interrupted`, or of a tool-call step: it is
            # added to the next ResponseDone so no tokens go unreported.
            self._late_usage = _add_usage(self._late_usage, counts)

    # --- config ---------------------------------------------------------------------------

    def _live(self) -> Any:
        if self._session is None:
            raise RealtimeSessionError("gemini: session is not connected")
        return self._session

    def _http_options(self) -> types.HttpOptions:
        options: dict[str, Any] = {"api_version": API_VERSION}
        if self.config.base_url:
            # The SDK rewrites the scheme to wss whatever is given here.
            options["base_url"] = self.config.base_url
        ssl_context = self.config.extra.get("ssl_context")
        if ssl_context is not None:
            options["async_client_args"] = {"ssl": ssl_context}
        return types.HttpOptions(**options)

    def _live_config(self, *, with_history: bool) -> types.LiveConnectConfig:
        config = self.config
        extra = config.extra
        speech: dict[str, Any] = {}
        if config.voice:
            speech["voice_config"] = types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=config.voice)
            )
        if extra.get("language_code"):
            speech["language_code"] = extra["language_code"]
        tools: list[types.ToolUnion] | None = None
        if config.tools:
            tools = [
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name=spec.name,
                            description=spec.description,
                            parameters=gemini_schema(spec.parameters),
                        )
                        for spec in config.tools
                    ]
                )
            ]
        return types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            speech_config=types.SpeechConfig(**speech) if speech else None,
            system_instruction=config.instructions or None,
            tools=tools,
            temperature=config.temperature,
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
            realtime_input_config=extra.get("realtime_input_config"),
            # Audio-only sessions are capped at ~15 min without compression.
            context_window_compression=types.ContextWindowCompressionConfig(
                sliding_window=types.SlidingWindow()
            ),
            history_config=(
                types.HistoryConfig(initial_history_in_client_content=True)
                if with_history
                else None
            ),
        )


def _history_turns(history: list[Transcript]) -> list[types.Content | types.ContentDict]:
    return [
        types.Content(
            role="model" if turn.speaker == "agent" else "user",
            parts=[types.Part(text=turn.text)],
        )
        for turn in history
        if turn.text
    ]


def _rate_of(mime_type: str, default: int) -> int:
    for param in mime_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key == "rate" and value.isdigit():
            return int(value)
    return default


def _add_usage(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    total = dict(a)
    for key, value in b.items():
        if isinstance(value, int) and isinstance(total.get(key), int):
            total[key] += value
        elif isinstance(value, list) and isinstance(total.get(key), list):
            total[key] = total[key] + value
        else:
            total.setdefault(key, value)
    return total
