"""A loopback fake of Hume EVI's chat WebSocket (``/v0/evi/chat``), per docs/protocols.md,
"Hume EVI".

Plain ``ws://``. The handshake must carry ``X-Hume-Api-Key`` (or ``api_key=`` in the query);
the first frame is ``chat_metadata``. Every frame it sends validates against the ``hume`` SDK's
own types (the tests check that).

Scripted conversation:

- ``assistant_input`` → EVI speaks that text: ``assistant_message`` (``from_text``) and its
  ``audio_output`` chunks, each a small WAV file at ``output_rate`` (24 or 48 kHz), then
  ``assistant_end``.
- Caller audio (PCM16 at the rate ``session_settings.audio`` declared): a toy energy VAD.
  Speech start → interim ``user_message`` (with ``verbose_transcription=true``), and
  ``user_interruption`` if an answer is streaming (the answer stops). End of speech → final
  ``user_message``; the first time, if ``session_settings`` declared tools, a ``tool_call``
  (the answer waits for ``tool_response``/``tool_error``), then an answer of two sentences.
- ``user_input`` → a final ``user_message`` (``from_text``) and an answer.
- ``error()`` sends an ``error`` frame; ``drop()`` kills the sockets without a close frame.

Plain HTTP on the same port, as Hume's REST API: ``GET /v0/evi/configs`` (a page of configs)
and ``GET /v0/evi/configs/{id}`` (one of :attr:`FakeHumeEVI.config_ids`, else 404), with the
same ``X-Hume-Api-Key`` check (401): the cheap call that verifies a key.

Standalone: ``python -m tests.fakes.hume_evi --port 8766``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import uuid
import wave
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from tests.fakes.voice_socket import Conversation, FakeVoiceServer, tone

API_KEY = "fake-hume-key"
CHAT_PATH = "/v0/evi/chat"
CONFIGS_PATH = "/v0/evi/configs"
CONFIG_ID = "0b6b5e4e-6b1c-4b59-9a5a-0b7d1f2d7e11"
CALLER_LINES = ("Where is my parcel?", "Thanks a lot.", "Bye.")


def wav_chunk(ms: int, *, rate: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """``ms`` of a sine tone as a complete mono 16-bit WAV file."""
    pcm = tone(ms, rate=rate, freq=freq, amplitude=amplitude)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()


@dataclass
class EviConnection:
    """What one client did on one socket."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    session_settings: list[dict[str, Any]] = field(default_factory=list)
    audio_in: bytearray = field(default_factory=bytearray)
    user_inputs: list[str] = field(default_factory=list)
    assistant_inputs: list[str] = field(default_factory=list)
    tool_replies: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def settings(self) -> dict[str, Any]:
        """All session_settings merged, later ones winning."""
        merged: dict[str, Any] = {}
        for settings in self.session_settings:
            merged.update(settings)
        return merged


class FakeHumeEVI(FakeVoiceServer):
    connections: list[EviConnection]

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        output_rate: int = 24000,
        sentence_ms: int = 400,
        chunk_ms: int = 100,
        pace: float = 0.0,
        tool_args: dict[str, Any] | None = None,
        speech_threshold: float = 1000.0,
    ) -> None:
        """``pace``: answer streaming speed as a fraction of real time (0 = no waiting)."""
        super().__init__()
        self.api_key = api_key
        self.output_rate = output_rate
        self.sentence_ms = sentence_ms
        self.chunk_ms = chunk_ms
        self.pace = pace
        self.tool_args = tool_args if tool_args is not None else {"parcel_id": "P-9"}
        self.speech_threshold = speech_threshold
        self.config_ids: set[str] = {CONFIG_ID}

    @property
    def base_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def error(
        self, code: str = "E0710", slug: str = "tool_failed", message: str = "boom"
    ) -> None:
        for chat in self._live_conversations():
            await chat.send({"type": "error", "code": code, "slug": slug, "message": message})

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == CONFIGS_PATH or url.path.startswith(CONFIGS_PATH + "/"):
            return self._configs(connection, request, url.path)
        if url.path != CHAT_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no EVI endpoint at {url.path}\n")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        key = request.headers.get("X-Hume-Api-Key") or query.get("api_key")
        if key != self.api_key:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid credentials\n")
        return None

    def _configs(self, connection: ServerConnection, request: Request, path: str) -> Response:
        """Hume's REST API for EVI configs, answered before any WebSocket handshake."""
        if request.headers.get("X-Hume-Api-Key") != self.api_key:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid credentials\n")
        config_id = path.removeprefix(CONFIGS_PATH).strip("/")
        configs = [{"id": c, "version": 0, "name": f"config {c[:8]}"} for c in self.config_ids]
        if config_id:
            if config_id not in self.config_ids:
                return connection.respond(HTTPStatus.NOT_FOUND, "config not found\n")
            body: Any = [c for c in configs if c["id"] == config_id]
        else:
            body = {"page_number": 0, "page_size": 10, "total_pages": 1, "configs_page": configs}
        response = connection.respond(HTTPStatus.OK, json.dumps(body))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _conversation(self, ws: ServerConnection) -> _Chat:
        url = urlsplit(ws.request.path)
        conn = EviConnection(
            path=url.path,
            query={k: v[-1] for k, v in parse_qs(url.query).items()},
            headers=dict(ws.request.headers.raw_items()),
        )
        return _Chat(self, ws, conn)


class _Chat(Conversation):
    fake: FakeHumeEVI
    conn: EviConnection

    def __init__(self, fake: FakeHumeEVI, ws: ServerConnection, conn: EviConnection) -> None:
        super().__init__(fake, ws, conn)
        self.started = asyncio.get_running_loop().time()

    async def opened(self) -> None:
        group = self.conn.query.get("resumed_chat_group_id") or f"group-{uuid.uuid4().hex[:8]}"
        await self.send(
            {
                "type": "chat_metadata",
                "chat_id": f"chat-{uuid.uuid4().hex[:8]}",
                "chat_group_id": group,
                "request_id": uuid.uuid4().hex,
            }
        )

    def now_ms(self) -> int:
        return int((asyncio.get_running_loop().time() - self.started) * 1000)

    @property
    def input_rate(self) -> int:
        return int((self.conn.settings.get("audio") or {}).get("sample_rate") or 48000)

    async def on_frame(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            # EVI's protocol is JSON text frames only.
            await self.ws.close(1003, "binary frames are not accepted")
            return
        message = json.loads(raw)
        self.conn.messages.append(message)
        kind = message.get("type")
        if kind == "session_settings":
            self.conn.session_settings.append(message)
        elif kind == "audio_input":
            pcm = base64.b64decode(message["data"], validate=True)
            self.conn.audio_in += pcm
            await self.vad(pcm)
        elif kind == "assistant_input":
            self.conn.assistant_inputs.append(message["text"])
            await self.stop_answer(interruption=False)
            self.answer = asyncio.create_task(self.speak([message["text"]], from_text=True))
        elif kind == "user_input":
            self.conn.user_inputs.append(message["text"])
            await self.stop_answer(interruption=False)
            await self.user_message(message["text"], interim=False, from_text=True)
            self.answer = asyncio.create_task(self.speak(["Sure.", "Anything else?"]))
        elif kind in ("tool_response", "tool_error"):
            self.conn.tool_replies.append(message)
            if self.tool_reply is not None and not self.tool_reply.done():
                self.tool_reply.set_result(message)

    async def speech_started(self) -> None:
        if self.conn.query.get("verbose_transcription") == "true":
            await self.user_message("Where", interim=True)
        await self.stop_answer(interruption=True)

    async def caller_done(self) -> None:
        line = CALLER_LINES[self.caller_turns % len(CALLER_LINES)]
        self.caller_turns += 1
        await self.user_message(line, interim=False)
        tools = self.conn.settings.get("tools") or []
        if tools and not self.tool_called:
            self.tool_called = True
            self.answer = asyncio.create_task(self.tool_then_answer(tools[0]["name"]))
        else:
            self.answer = asyncio.create_task(self.speak(["Happy to help.", "Anything else?"]))

    async def stop_answer(self, *, interruption: bool) -> None:
        if await self.cut_answer() and interruption:
            await self.send({"type": "user_interruption", "time": self.now_ms()})

    async def user_message(self, text: str, *, interim: bool, from_text: bool = False) -> None:
        now = self.now_ms()
        await self.send(
            {
                "type": "user_message",
                "message": {"role": "user", "content": text},
                "models": {},
                "from_text": from_text,
                "interim": interim,
                "time": {"begin": max(0, now - 500), "end": now},
            }
        )

    async def tool_then_answer(self, name: str) -> None:
        self.tool_reply = asyncio.get_running_loop().create_future()
        await self.send(
            {
                "type": "tool_call",
                "name": name,
                "parameters": json.dumps(self.fake.tool_args),
                "tool_call_id": f"tool-{self.caller_turns}",
                "tool_type": "function",
                "response_required": True,
            }
        )
        reply = await self.tool_reply
        said = reply.get("content") if reply["type"] == "tool_response" else "it failed"
        await self.speak([f"The tracker says {said}.", "Anything else?"])

    async def speak(self, sentences: list[str], *, from_text: bool = False) -> None:
        """One answer: per sentence an assistant_message and its WAV audio_output chunks."""
        for sentence in sentences:
            message_id = uuid.uuid4().hex
            await self.send(
                {
                    "type": "assistant_message",
                    "id": message_id,
                    "message": {"role": "assistant", "content": sentence},
                    "models": {},
                    "from_text": from_text,
                    "is_quick_response": False,
                }
            )
            steps = max(1, self.fake.sentence_ms // self.fake.chunk_ms)
            for index in range(steps):
                chunk = wav_chunk(self.fake.chunk_ms, rate=self.fake.output_rate)
                await self.send(
                    {
                        "type": "audio_output",
                        "id": message_id,
                        "index": index,
                        "data": base64.b64encode(chunk).decode(),
                    }
                )
                await asyncio.sleep(self.fake.chunk_ms / 1000 * self.fake.pace)
        await self.send({"type": "assistant_end"})


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--output-rate", type=int, choices=(24000, 48000), default=24000)
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--api-key", default=API_KEY)
    args = parser.parse_args()
    fake = FakeHumeEVI(api_key=args.api_key, output_rate=args.output_rate, pace=args.pace)
    await fake.start(args.host, args.port)
    print(f"fake Hume EVI on {fake.base_url}{CHAT_PATH}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
