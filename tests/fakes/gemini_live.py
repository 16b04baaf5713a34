"""A loopback fake of the Gemini Live API (``BidiGenerateContent``), driven by the real SDK.

It speaks the wire protocol of docs/protocols.md, "Gemini Live", over TLS (the SDK forces ``wss``): a ``trustme``
CA signs a cert for 127.0.0.1, and clients trust it through ``client_ssl_context()``.

Scripted conversation (``mode="script"``):

- ``setup`` → ``setupComplete``. With ``historyConfig.initialHistoryInClientContent`` the
  ``clientContent`` turns up to the first ``turnComplete`` are kept as history, unanswered.
- A ``clientContent`` turn with ``turnComplete`` (``say``/``send_text``) → the greeting: a model
  turn of ``greeting_ms`` of 24 kHz PCM, its output transcription, ``generationComplete``,
  ``turnComplete`` + ``usageMetadata``.
- Caller audio: a toy energy VAD. End of speech → ``inputTranscription``, then, the first time
  and if the setup declared a function, a ``toolCall`` (the answer waits for the
  ``toolResponse``), then an answer quoting the tool's output. Speech while an answer is
  streaming → ``interrupted`` (and a ``turnComplete`` + usage for the cut turn).
- ``go_away()``, ``drop()`` (abort the TCP connection, no close frame) on demand.

``mode="echo"`` (benchmarks): every caller audio chunk comes straight back, resampled to
24 kHz, as model audio; end of caller speech → ``turnComplete``.

Everything a client sent is recorded per connection in :attr:`FakeGeminiLive.connections`.

Standalone: ``python -m tests.fakes.gemini_live --port 8765 --ca-file /tmp/gemini-ca.pem``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import ssl
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
import trustme
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from tests.fakes.voice_socket import Conversation, FakeVoiceServer, tone

API_KEY = "fake-gemini-key"
API_VERSION = "v1beta"
LIVE_PATH = f"/ws/google.ai.generativelanguage.{API_VERSION}.GenerativeService.BidiGenerateContent"
OUTPUT_RATE = 24000
INPUT_RATE = 16000

GREETING = "Hello, thanks for calling. How can I help you today?"
CALLER_LINES = ("I would like to check my order.", "Great, thank you.", "Goodbye.")


def _get(d: dict[str, Any], camel: str, default: Any = None) -> Any:
    """The SDK mixes casings (top level camelCase, nested snake_case): accept both."""
    if camel in d:
        return d[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return d.get(snake, default)


@dataclass
class LiveConnection:
    """What one client did on one socket."""

    path: str
    headers: dict[str, str]
    setup: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    client_content: list[dict[str, Any]] = field(default_factory=list)
    audio_in: bytearray = field(default_factory=bytearray)
    audio_mime_types: set[str] = field(default_factory=set)
    realtime_text: list[str] = field(default_factory=list)
    tool_responses: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def function_names(self) -> list[str]:
        names = []
        for tool in _get(self.setup, "tools", []) or []:
            for decl in _get(tool, "functionDeclarations", []) or []:
                names.append(decl["name"])
        return names


class FakeGeminiLive(FakeVoiceServer):
    connections: list[LiveConnection]

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        mode: str = "script",
        greeting_ms: int = 600,
        answer_ms: int = 600,
        chunk_ms: int = 40,
        pace: float = 0.0,
        tool_args: dict[str, Any] | None = None,
        speech_threshold: float = 1000.0,
    ) -> None:
        """``pace`` is the speed of streamed answers as a fraction of real time (0 = as fast
        as possible, 1 = real time); interruption tests need a paced answer."""
        if mode not in ("script", "echo"):
            raise ValueError(f"unknown mode {mode!r}")
        super().__init__()
        self.api_key = api_key
        self.mode = mode
        self.greeting_ms = greeting_ms
        self.answer_ms = answer_ms
        self.chunk_ms = chunk_ms
        self.pace = pace
        self.tool_args = tool_args if tool_args is not None else {"order_id": "A-123"}
        self.speech_threshold = speech_threshold
        self._ca = trustme.CA()

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeGeminiLive:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        return await self._serve(host, port, ssl=server_ctx)

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    # --- controls ------------------------------------------------------------------------

    async def go_away(self, time_left: str = "10s") -> None:
        for convo in self._live_conversations():
            await convo.send({"goAway": {"timeLeft": time_left}})

    # --- server --------------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path != LIVE_PATH:
            # The real service only serves Live on v1beta: a client on v1 gets nothing.
            return connection.respond(HTTPStatus.NOT_FOUND, f"no Live endpoint at {path}\n")
        if request.headers.get("x-goog-api-key") != self.api_key:
            return connection.respond(HTTPStatus.FORBIDDEN, "API key not valid\n")
        return None

    def _conversation(self, ws: ServerConnection) -> _Conversation:
        conn = LiveConnection(path=ws.request.path, headers=dict(ws.request.headers.raw_items()))
        return _Conversation(self, ws, conn)


class _Conversation(Conversation):
    fake: FakeGeminiLive
    conn: LiveConnection
    input_rate = INPUT_RATE

    def __init__(self, fake: FakeGeminiLive, ws: ServerConnection, conn: LiveConnection) -> None:
        super().__init__(fake, ws, conn)
        self.history_phase = False
        self.model_turns = 0

    @property
    def input_transcription(self) -> bool:
        return _get(self.conn.setup, "inputAudioTranscription") is not None

    @property
    def output_transcription(self) -> bool:
        return _get(self.conn.setup, "outputAudioTranscription") is not None

    async def on_frame(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        self.conn.messages.append(message)
        if "setup" in message:
            self.conn.setup = message["setup"]
            history = _get(self.conn.setup, "historyConfig") or {}
            self.history_phase = bool(_get(history, "initialHistoryInClientContent"))
            await self.send({"setupComplete": {"sessionId": f"fake-{id(self)}"}})
            return
        content = _get(message, "clientContent")
        if content is not None:
            await self.on_client_content(content)
        realtime = _get(message, "realtimeInput")
        if realtime is not None:
            await self.on_realtime_input(realtime)
        tool_response = _get(message, "toolResponse")
        if tool_response is not None:
            responses = _get(tool_response, "functionResponses") or []
            self.conn.tool_responses.extend(responses)
            if self.tool_reply is not None and not self.tool_reply.done() and responses:
                self.tool_reply.set_result(responses[0])

    async def on_client_content(self, content: dict[str, Any]) -> None:
        turns = _get(content, "turns") or []
        complete = bool(_get(content, "turnComplete"))
        if self.history_phase:
            self.conn.history.extend(turns)
            self.history_phase = not complete
            return
        self.conn.client_content.append(content)
        if complete:
            # On 3.1 Live a completed client turn interrupts any active generation.
            await self.interrupt_answer()
            if self.fake.mode == "echo":
                await self.send(self.turn_complete(0))
            else:
                self.start_answer(
                    GREETING if not self.model_turns else "Sure.", self.fake.greeting_ms
                )

    async def on_realtime_input(self, realtime: dict[str, Any]) -> None:
        audio = _get(realtime, "audio")
        if audio is not None:
            pcm = _b64decode(audio["data"])
            self.conn.audio_in += pcm
            self.conn.audio_mime_types.add(_get(audio, "mimeType"))
            if self.fake.mode == "echo":
                await self.echo(pcm)
            await self.vad(pcm)
        text = _get(realtime, "text")
        if text:
            self.conn.realtime_text.append(text)
            await self.interrupt_answer()
            self.start_answer("Sure.", self.fake.answer_ms)
        if _get(realtime, "audioStreamEnd") and self.speaking:
            self.speaking = False
            await self.caller_done()

    async def speech_started(self) -> None:
        await self.interrupt_answer()

    async def caller_done(self) -> None:
        line = CALLER_LINES[self.caller_turns % len(CALLER_LINES)]
        self.caller_turns += 1
        if self.fake.mode == "echo":
            await self.send(self.turn_complete(0))
            return
        if self.input_transcription:
            # Transcription arrives in pieces, with their own leading spaces.
            for piece in _pieces(line):
                await self.send({"serverContent": {"inputTranscription": {"text": piece}}})
        functions = self.conn.function_names
        if functions and not self.tool_called:
            self.tool_called = True
            self.answer = asyncio.create_task(self.tool_then_answer(functions[0]))
        else:
            self.start_answer("Anything else I can help with?", self.fake.answer_ms)

    async def interrupt_answer(self) -> None:
        if not await self.cut_answer():
            return
        await self.send({"serverContent": {"interrupted": True}})
        # The cut turn's usage comes afterwards, on its own turnComplete frame.
        await self.send(self.turn_complete(self.fake.answer_ms // 4))

    def start_answer(self, text: str, ms: int) -> None:
        self.answer = asyncio.create_task(self.stream_turn(text, ms))

    async def tool_then_answer(self, name: str) -> None:
        self.tool_reply = asyncio.get_running_loop().create_future()
        call = {"id": f"fc-{self.caller_turns}", "name": name, "args": self.fake.tool_args}
        await self.send({"toolCall": {"functionCalls": [call]}})
        reply = await self.tool_reply
        result = _get(reply, "response") or {}
        await self.stream_turn(
            f"The lookup says {json.dumps(result, sort_keys=True)}.", self.fake.answer_ms
        )

    async def stream_turn(self, text: str, ms: int) -> None:
        self.model_turns += 1
        pcm = tone(ms, rate=OUTPUT_RATE)
        step = OUTPUT_RATE * self.fake.chunk_ms // 1000 * 2
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        words = _pieces(text) if self.output_transcription else []
        per_chunk = max(1, -(-len(words) // max(1, len(chunks))))
        for index, chunk in enumerate(chunks):
            content: dict[str, Any] = {
                "modelTurn": {
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": f"audio/pcm;rate={OUTPUT_RATE}",
                                "data": base64.b64encode(chunk).decode(),
                            }
                        }
                    ]
                }
            }
            said = words[index * per_chunk : (index + 1) * per_chunk]
            if said:
                # 3.1 Live puts audio and its transcript in one serverContent.
                content["outputTranscription"] = {"text": "".join(said)}
            await self.send({"serverContent": content})
            if self.fake.pace:
                await asyncio.sleep(self.fake.chunk_ms / 1000 * self.fake.pace)
            else:
                await asyncio.sleep(0)
        rest = words[len(chunks) * per_chunk :]
        if rest:
            await self.send({"serverContent": {"outputTranscription": {"text": "".join(rest)}}})
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send(self.turn_complete(ms))

    def turn_complete(self, ms: int) -> dict[str, Any]:
        prompt = 100 + 40 * self.caller_turns
        response = ms // 40
        return {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {
                "promptTokenCount": prompt,
                "responseTokenCount": response,
                "totalTokenCount": prompt + response,
                "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": prompt}],
                "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": response}],
            },
        }

    async def echo(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2")
        n_out = len(samples) * OUTPUT_RATE // INPUT_RATE
        x_out = np.arange(n_out) * INPUT_RATE / OUTPUT_RATE
        out = np.interp(x_out, np.arange(len(samples)), samples).astype("<i2").tobytes()
        data = base64.b64encode(out).decode()
        await self.send(
            {
                "serverContent": {
                    "modelTurn": {
                        "parts": [
                            {
                                "inlineData": {
                                    "mimeType": f"audio/pcm;rate={OUTPUT_RATE}",
                                    "data": data,
                                }
                            }
                        ]
                    }
                }
            }
        )


def _b64decode(data: str) -> bytes:
    # The SDK sends URL-safe base64 (protobuf JSON accepts both alphabets); a plain
    # b64decode would silently drop '-' and '_' and corrupt the audio.
    return base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0]] + [f" {w}" for w in words[1:]]


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--mode", choices=("script", "echo"), default="script")
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--api-key", default=API_KEY)
    parser.add_argument("--ca-file", default="gemini-fake-ca.pem", help="where to write the CA")
    args = parser.parse_args()
    fake = FakeGeminiLive(api_key=args.api_key, mode=args.mode, pace=args.pace)
    await fake.start(args.host, args.port)
    with open(args.ca_file, "wb") as f:
        f.write(fake.ca_pem)
    print(
        f"fake Gemini Live on {fake.base_url} (mode={args.mode}); trust {args.ca_file}", flush=True
    )
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
