"""Hume EVI behind :class:`RealtimeSession`, over EVI's chat WebSocket.

This speaks the wire protocol directly (``websockets`` + ``orjson``) instead of going through
the ``hume`` SDK (0.14.1): the SDK validates every inbound frame against a pydantic union
(~0.5 ms per ``audio_output`` chunk here), raises on any frame type or field it does not know
(one new server message would end the call), and connects through ``websockets.legacy``,
deprecated since websockets 14. The protocol is a handful of JSON messages (docs/protocols.md,
"Hume EVI").

Audio: caller mu-law 8 kHz → PCM16 16 kHz (``session_settings.audio`` declares linear16, since
EVI takes no mu-law). Each ``audio_output`` is a small WAV file: its header gives the rate, the
PCM goes through one persistent anti-aliasing resampler per rate down to mu-law 8 kHz.

Answers: EVI splits an answer into several assistant messages (each with its own id) and ends
it with ``assistant_end``; the session names each answer locally (``hume-<n>``), which is the
``item_id`` of its audio, transcript and :class:`ResponseDone`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from agents.realtime.audio import MulawTo16k, PcmToMulaw8k, wav_to_pcm
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
    ToolCall,
    Transcript,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "wss://api.hume.ai"
CHAT_PATH = "/v0/evi/chat"
INPUT_RATE = 16000
# What the SDK's own player assumes for an audio_output chunk without a RIFF header.
RAW_OUTPUT_RATE = 48000
CONNECT_TIMEOUT_S = 10.0


class HumeEVISession(RealtimeSession):
    """One EVI chat.

    ``config.extra`` keys: ``config_id`` (the EVI config: voice, LLM, prompt...; Hume's default
    config without it), ``config_version``, ``variables`` (prompt variables),
    ``resumed_chat_group_id``, ``connect_timeout`` (seconds). ``config.voice`` is sent as
    ``voice_id`` and overrides the config's voice; ``config.model`` is not sent (the config
    picks the EVI version).
    """

    provider = "hume"

    def __init__(self, config: SessionConfig) -> None:
        super().__init__(config)
        self._ws: ClientConnection | None = None
        self._upsampler = MulawTo16k(out_rate=INPUT_RATE)
        self._downsamplers: dict[int, PcmToMulaw8k] = {}
        self.chat_id = ""
        self.chat_group_id = ""
        self._answers = 0
        self._item_id = ""  # the open answer, "" between answers
        self._item_muted = False  # the open answer was cut by interrupt(): drop its audio
        self._answer_audio_ids: set[str] = set()
        self._dropped_audio_ids: set[str] = set()
        self._agent_text: list[str] = []
        self._caller_speaking = False
        self._closing = False

    # --- lifecycle ------------------------------------------------------------------------

    async def connect(self, *, history: list[Transcript] | None = None) -> None:
        """Open the chat. May be called again after a drop (then iterate :meth:`events`
        again): the new chat resumes this one's chat group, so ``history`` is only sent (as
        context) when there is no group to resume."""
        extra = self.config.extra
        await self._discard_connection()
        # A reconnect of this session resumes its chat group: EVI restores the context itself.
        resumed = self.chat_group_id or extra.get("resumed_chat_group_id", "")
        query = {
            "config_id": extra.get("config_id"),
            "config_version": extra.get("config_version"),
            "resumed_chat_group_id": resumed or None,
            # Interim user transcripts are the earliest sign the caller is talking.
            "verbose_transcription": "true",
        }
        url = f"{self._base_url()}{CHAT_PATH}?" + urlencode(
            {k: v for k, v in query.items() if v is not None}
        )
        try:
            async with asyncio.timeout(extra.get("connect_timeout", CONNECT_TIMEOUT_S)):
                ws = await websockets.connect(
                    url,
                    additional_headers={"X-Hume-Api-Key": self.config.api_key},
                    max_size=None,
                    open_timeout=None,
                )
                try:
                    first = orjson.loads(await ws.recv())
                except BaseException:
                    await ws.close()
                    raise
        except (websockets.WebSocketException, OSError, TimeoutError) as exc:
            raise RealtimeSessionError(f"hume: could not open a chat: {exc!r}") from exc
        if first.get("type") != "chat_metadata":
            await ws.close()
            raise RealtimeSessionError(f"hume: chat refused: {first.get('message') or first}")
        self.chat_id = first.get("chat_id", "")
        self.chat_group_id = first.get("chat_group_id", "")
        self._ws = ws
        self._closing = False
        try:
            await self._send(self._session_settings(history=None if resumed else history))
        except websockets.ConnectionClosed as exc:
            raise RealtimeSessionError(f"hume: chat closed during setup: {exc}") from exc

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        await self._discard_connection()

    async def _discard_connection(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        # Whatever was in flight belongs to the old socket.
        self._upsampler.reset()
        self._reset_downsamplers()
        self._item_id = ""
        self._item_muted = False
        self._answer_audio_ids.clear()
        self._dropped_audio_ids.clear()
        self._agent_text.clear()
        self._caller_speaking = False

    # --- client -> EVI -------------------------------------------------------------------

    async def send_audio(self, mulaw: bytes) -> None:
        pcm = self._upsampler.convert(mulaw)
        if pcm:
            await self._send({"type": "audio_input", "data": base64.b64encode(pcm).decode()})

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        if is_error:
            await self._send({"type": "tool_error", "tool_call_id": call_id, "error": output})
        else:
            await self._send({"type": "tool_response", "tool_call_id": call_id, "content": output})

    async def interrupt(self, *, item_id: str, audio_end_ms: int) -> None:
        """Drop the rest of ``item_id``'s audio. EVI has no truncate: ``audio_end_ms`` is not
        sent. When EVI itself saw the interruption (``user_interruption``) the answer is
        already closed and this is a no-op."""
        if item_id and item_id == self._item_id:
            self._item_muted = True
            self._reset_downsamplers()

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        if respond:
            await self._send({"type": "user_input", "text": text})
        else:
            # No answer wanted: hand it over as context for the caller's next message.
            await self._send(
                {"type": "session_settings", "context": {"type": "temporary", "text": text}}
            )

    async def say(self, text: str) -> None:
        # EVI speaks assistant_input verbatim in the configured voice.
        await self._send({"type": "assistant_input", "text": text})

    # --- EVI -> client -------------------------------------------------------------------

    def events(self) -> AsyncIterator[RealtimeEvent]:
        # Bound to the socket open now: a reconnect needs a new call.
        return self._events(self._require())

    async def _events(self, ws: ClientConnection) -> AsyncIterator[RealtimeEvent]:
        reason = ""
        try:
            async for raw in ws:
                for event in self._on_message(orjson.loads(raw)):
                    yield event
        except websockets.ConnectionClosed:
            pass
        except orjson.JSONDecodeError as exc:
            logger.warning("hume: unreadable frame: %s", exc)
            reason = f"bad frame: {exc}"
            await self.close()
        if not reason:
            reason = f"{ws.close_code} {ws.close_reason or ''}".strip()
        yield Closed(unexpected=not self._closing, reason=reason)

    def _on_message(self, message: dict[str, Any]) -> list[RealtimeEvent]:
        kind = message.get("type")
        out: list[RealtimeEvent] = []
        if kind == "audio_output":
            self._on_audio(message, out)
        elif kind == "assistant_message":
            self._open_answer()
            text = (message.get("message") or {}).get("content")
            if text:
                self._agent_text.append(text)
        elif kind == "user_message":
            text = (message.get("message") or {}).get("content") or ""
            if message.get("interim"):
                self._caller_started(out)
            else:
                self._caller_speaking = False
                if text:
                    out.append(Transcript(speaker="caller", text=text))
        elif kind == "user_interruption":
            self._caller_started(out)
            self._finish_answer(out, interrupted=True)
        elif kind == "assistant_end":
            self._finish_answer(out, interrupted=False)
        elif kind == "tool_call":
            self._on_tool_call(message, out)
        elif kind == "error":
            out.append(
                ProviderError(
                    code=str(message.get("code") or message.get("slug") or "error"),
                    message=str(message.get("message", "")),
                )
            )
        elif kind == "chat_metadata":
            self.chat_id = message.get("chat_id", self.chat_id)
            self.chat_group_id = message.get("chat_group_id", self.chat_group_id)
        return out

    def _on_audio(self, message: dict[str, Any], out: list[RealtimeEvent]) -> None:
        audio_id = message.get("id", "")
        if audio_id in self._dropped_audio_ids:
            return  # the rest of an answer the caller interrupted
        item_id = self._open_answer()
        self._answer_audio_ids.add(audio_id)
        if self._item_muted:
            return
        data = base64.b64decode(message.get("data", ""))
        if data[:4] == b"RIFF":
            try:
                pcm, rate = wav_to_pcm(data)
            except ValueError as exc:
                out.append(ProviderError(code="bad_audio", message=str(exc)))
                return
        else:
            pcm, rate = data, RAW_OUTPUT_RATE
        downsampler = self._downsamplers.get(rate)
        if downsampler is None:
            downsampler = self._downsamplers[rate] = PcmToMulaw8k(rate)
        payload = downsampler.convert(pcm)
        if payload:
            out.append(AudioOut(payload=payload, item_id=item_id))

    def _on_tool_call(self, message: dict[str, Any], out: list[RealtimeEvent]) -> None:
        call_id = message.get("tool_call_id", "")
        raw = message.get("parameters") or "{}"
        try:
            arguments = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            out.append(
                ProviderError(code="bad_tool_arguments", message=f"{message.get('name')}: {raw!r}")
            )
            arguments = {}
        out.append(ToolCall(call_id=call_id, name=message.get("name", ""), arguments=arguments))

    def _open_answer(self) -> str:
        if not self._item_id:
            self._answers += 1
            self._item_id = f"hume-{self._answers}"
            self._answer_audio_ids.clear()
        return self._item_id

    def _caller_started(self, out: list[RealtimeEvent]) -> None:
        if not self._caller_speaking:
            self._caller_speaking = True
            out.append(SpeechStarted())

    def _finish_answer(self, out: list[RealtimeEvent], *, interrupted: bool) -> None:
        item_id = self._item_id
        if not item_id:
            return
        cut = interrupted or self._item_muted
        if cut:
            # Chunks of this answer still in flight are dropped when they arrive.
            self._dropped_audio_ids = set(self._answer_audio_ids)
            self._reset_downsamplers()
        else:
            for downsampler in self._downsamplers.values():
                tail = downsampler.flush()
                if tail:
                    out.append(AudioOut(payload=tail, item_id=item_id))
        text = " ".join(self._agent_text).strip()
        self._agent_text.clear()
        if text:
            out.append(Transcript(speaker="agent", text=text, item_id=item_id))
        out.append(ResponseDone(item_id=item_id, interrupted=cut))
        self._item_id = ""
        self._item_muted = False

    def _reset_downsamplers(self) -> None:
        for downsampler in self._downsamplers.values():
            downsampler.reset()

    # --- helpers --------------------------------------------------------------------------

    def _require(self) -> ClientConnection:
        if self._ws is None:
            raise RealtimeSessionError("hume: session is not connected")
        return self._ws

    async def _send(self, message: dict[str, Any]) -> None:
        # EVI wants text frames; orjson's bytes go out as text without a decode.
        await self._require().send(orjson.dumps(message), text=True)

    def _base_url(self) -> str:
        base = (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        return base

    def _session_settings(self, *, history: list[Transcript] | None) -> dict[str, Any]:
        config = self.config
        settings: dict[str, Any] = {
            "type": "session_settings",
            "audio": {"encoding": "linear16", "sample_rate": INPUT_RATE, "channels": 1},
        }
        if config.instructions:
            settings["system_prompt"] = config.instructions
        if config.voice:
            settings["voice_id"] = config.voice
        if config.tools:
            settings["tools"] = [
                {
                    "type": "function",
                    "name": spec.name,
                    "description": spec.description,
                    # EVI takes the JSON schema as a string.
                    "parameters": orjson.dumps(spec.parameters).decode(),
                }
                for spec in config.tools
            ]
        variables = config.extra.get("variables")
        if variables:
            settings["variables"] = variables
        if history:
            lines = "\n".join(f"{turn.speaker}: {turn.text}" for turn in history if turn.text)
            settings["context"] = {
                "type": "temporary",
                "text": f"The call was reconnected. Conversation so far:\n{lines}",
            }
        return settings
