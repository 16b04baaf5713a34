"""Plumbing the loopback voice-provider WebSocket fakes share (Gemini Live, Hume EVI).

:class:`FakeVoiceServer` serves the socket, records every client connection and runs one
:class:`Conversation` per socket. A conversation streams one answer at a time as a task that
caller speech can cut; the caller's speech is found by a toy energy VAD. Each fake keeps its
own wire format: the handshake check, the frames it reads and the frames it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Self

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


def tone(ms: int, *, rate: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """``ms`` of a sine tone as PCM16 little-endian mono."""
    n = rate * ms // 1000
    t = np.arange(n) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


class Conversation:
    """One client socket. What the client did is recorded on ``conn`` (a dataclass with a
    ``sent`` list); ``answer`` is the model turn being streamed."""

    input_rate: int  # sample rate of the caller's PCM16 audio, for the VAD

    def __init__(self, fake: FakeVoiceServer, ws: ServerConnection, conn: Any) -> None:
        self.fake = fake
        self.ws = ws
        self.conn = conn
        self.closed = False
        self.answer: asyncio.Task[None] | None = None
        self.tool_reply: asyncio.Future[dict[str, Any]] | None = None
        self.tool_called = False
        self.speaking = False
        self.loud_ms = 0.0
        self.quiet_ms = 0.0
        self.caller_turns = 0

    async def opened(self) -> None:
        """Runs once the socket is accepted, before its first frame is read."""

    async def on_frame(self, raw: str | bytes) -> None:
        raise NotImplementedError

    async def speech_started(self) -> None:
        raise NotImplementedError

    async def caller_done(self) -> None:
        raise NotImplementedError

    async def send(self, message: dict[str, Any]) -> None:
        self.conn.sent.append(message)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(message))

    def cancel(self) -> None:
        if self.answer is not None:
            self.answer.cancel()

    async def cut_answer(self) -> bool:
        """Stop the answer being streamed and wait until it has stopped; False if none was."""
        if self.answer is None or self.answer.done():
            return False
        self.answer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.answer
        return True

    async def vad(self, pcm: bytes) -> None:
        """60 ms louder than the fake's threshold starts speech; 200 ms quieter ends it."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if not len(samples):
            return
        ms = len(samples) * 1000 / self.input_rate
        loud = float(np.sqrt(np.mean(samples**2))) > self.fake.speech_threshold
        if loud:
            self.loud_ms += ms
            self.quiet_ms = 0
            if not self.speaking and self.loud_ms >= 60:
                self.speaking = True
                await self.speech_started()
        elif self.speaking:
            self.quiet_ms += ms
            if self.quiet_ms >= 200:
                self.speaking = False
                self.loud_ms = 0
                await self.caller_done()
        else:
            self.loud_ms = 0


class FakeVoiceServer:
    """Lifecycle and controls of a fake; a subclass checks the handshake (``_check_request``)
    and builds the conversation for a socket (``_conversation``)."""

    speech_threshold: float

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self._conversations: list[Conversation] = []
        self._server: Server | None = None
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        return await self._serve(host, port)

    async def _serve(self, host: str, port: int, **options: Any) -> Self:
        self._server = await serve(
            self._handle, host, port, process_request=self._check_request, max_size=None, **options
        )
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for convo in self._conversations:
            convo.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drop(self) -> None:
        """Kill every socket without a close frame, like a network failure."""
        for convo in self._live_conversations():
            convo.cancel()
            convo.ws.transport.abort()

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)

    def _live_conversations(self) -> list[Conversation]:
        return [c for c in self._conversations if not c.closed]

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        raise NotImplementedError

    def _conversation(self, ws: ServerConnection) -> Conversation:
        raise NotImplementedError

    async def _handle(self, ws: ServerConnection) -> None:
        convo = self._conversation(ws)
        self.connections.append(convo.conn)
        self._conversations.append(convo)
        try:
            await convo.opened()
            async for raw in ws:
                await convo.on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            convo.cancel()
            convo.closed = True
