"""Carrier-side clients that dial our media WebSocket the way Twilio and Plivo do.

:class:`TwilioMediaClient` speaks Twilio Media Streams (docs/protocols.md, "Twilio: media
streams" and "Audio formats"): ``connected``, ``start`` (streamSid, callSid, customParameters,
mediaFormat), ``media`` every 20 ms with 160 bytes of mu-law and *string* ``sequenceNumber`` /
``chunk`` / ``timestamp``, ``dtmf``, ``stop``. It plays what the bridge sends in real time
(8 bytes per ms), echoes each ``mark`` once the audio queued before it has played, and on
``clear`` drops the queue and echoes the pending marks at once (believed to be Twilio's
behaviour, not re-verified: see the same section).

:class:`PlivoMediaClient` speaks Plivo Audio Streams (docs/protocols.md, "Plivo: media
streams"): ``start`` first (no ``connected``), numeric ``sequenceNumber``/``chunk``, epoch-ms
``timestamp``; answers ``playAudio``, ``checkpoint`` → ``playedStream``, ``clearAudio`` →
``clearedAudio``; the end of the call is the socket closing.

Everything received is kept with its ``time.monotonic()`` receive time, for latency
measurements (``first_media_after(t)``).

Audio sources: :func:`speech_like_mulaw` (voiced bursts that trip an energy VAD),
:func:`caller_turn` (speech then silence) and :func:`espeak_mulaw` (real synthetic speech when
``espeak-ng`` is installed; ``None`` otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agents.realtime.audio import MULAW_SILENCE, PcmToMulaw8k, pcm16_to_mulaw, wav_to_pcm

FRAME_MS = 20
FRAME_BYTES = 160

# --- audio sources ----------------------------------------------------------------------------


def speech_like_mulaw(
    ms: int, *, seed: int = 0, amplitude: float = 0.3, pitch: float = 140.0
) -> bytes:
    """Voiced, syllable-shaped sound: harmonics of ``pitch`` plus noise, modulated at ~4 Hz."""
    rng = np.random.default_rng(seed)
    n = 8 * ms
    t = np.arange(n) / 8000
    voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 8))
    noise = rng.normal(0, 0.3, n)
    envelope = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 2.0 * t))
    x = (voice / 2 + noise) * envelope
    x = x / max(1e-9, float(np.max(np.abs(x)))) * amplitude
    return pcm16_to_mulaw((x * 32767).astype("<i2").tobytes())


def silence_mulaw(ms: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (8 * ms)


def caller_turn(*, speech_ms: int = 600, silence_ms: int = 600, seed: int = 0) -> bytes:
    """One caller utterance followed by enough silence for a VAD to end the turn."""
    return speech_like_mulaw(speech_ms, seed=seed) + silence_mulaw(silence_ms)


def espeak_mulaw(text: str, *, voice: str = "en-us") -> bytes | None:
    """``text`` spoken by espeak-ng as mu-law 8 kHz, or ``None`` if espeak-ng is missing."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        return None
    wav = subprocess.run(
        [binary, "-v", voice, "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    pcm, rate = wav_to_pcm(wav)
    converter = PcmToMulaw8k(rate)
    return converter.convert(pcm) + converter.flush()


def twilio_signature(url: str, auth_token: str) -> str:
    """``X-Twilio-Signature`` for the WebSocket upgrade (a GET, no params) to ``url``."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, {})


# --- the clients ------------------------------------------------------------------------------


@dataclass(slots=True)
class Received:
    at: float
    message: dict[str, Any]


@dataclass(slots=True)
class MarkEcho:
    name: str
    at: float
    cleared: bool  # echoed because of a clear, not because its audio played


class CarrierMediaClient:
    """What Twilio and Plivo have in common: pacing, playback clock, marks, recording."""

    echo_marks_on_clear = True

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        custom_parameters: dict[str, str] | None = None,
        frame_ms: int = FRAME_MS,
    ) -> None:
        self.url = url
        self.headers = headers or {}
        self.custom_parameters = custom_parameters or {}
        self.frame_ms = frame_ms
        self.ws: ClientConnection | None = None
        self.received: list[Received] = []
        self.media: list[tuple[float, int]] = []  # (receive time, bytes) per media message
        self.audio_received = bytearray()
        self.marks: list[MarkEcho] = []
        self.clears: list[float] = []
        self.cleared_ms = 0.0  # queued audio dropped by clears
        self.protocol_errors: list[str] = []
        self.closed_at: float | None = None
        self.frames_sent = 0
        self._play_end = 0.0  # monotonic time when the queued audio finishes playing
        self._pending_marks: dict[str, asyncio.TimerHandle] = {}
        self._reader: asyncio.Task[None] | None = None
        self._seq = itertools.count(1)
        self._started_at = 0.0

    # --- lifecycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        self.ws = await connect(self.url, additional_headers=self.headers, compression=None)
        self._started_at = time.monotonic()
        self._reader = asyncio.create_task(self._read())
        await self._open()

    async def close(self) -> None:
        for handle in self._pending_marks.values():
            handle.cancel()
        self._pending_marks.clear()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def __aenter__(self) -> CarrierMediaClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what the caller does -----------------------------------------------------------------

    async def send_audio(self, mulaw: bytes, *, realtime: bool = True) -> None:
        """Send ``mulaw`` as frames of ``frame_ms``, paced like a phone line unless not
        ``realtime``. A short last frame is padded with silence."""
        size = 8 * self.frame_ms
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, offset in enumerate(range(0, len(mulaw), size)):
            frame = mulaw[offset : offset + size]
            if len(frame) < size:
                frame += bytes([MULAW_SILENCE]) * (size - len(frame))
            await self.send_frame(frame)
            if realtime:
                await asyncio.sleep(max(0.0, start + (i + 1) * self.frame_ms / 1000 - loop.time()))

    async def send_silence(self, ms: int, *, realtime: bool = True) -> None:
        await self.send_audio(silence_mulaw(ms), realtime=realtime)

    async def send_frame(self, frame: bytes) -> str:
        """Send one media message; returns the base64 payload exactly as sent."""
        payload = base64.b64encode(frame).decode("ascii")
        self.frames_sent += 1
        await self._send(self._media_message(payload, len(frame)))
        return payload

    # --- playback accounting ------------------------------------------------------------------

    @property
    def queued_ms(self) -> float:
        """Audio from the bridge still waiting to be played, in ms."""
        return max(0.0, self._play_end - time.monotonic()) * 1000

    @property
    def received_ms(self) -> float:
        return len(self.audio_received) / 8

    @property
    def played_ms(self) -> float:
        return self.received_ms - self.cleared_ms - self.queued_ms

    def first_media_after(self, t: float) -> float | None:
        """Receive time of the first media message at or after monotonic time ``t``."""
        return next((at for at, _ in self.media if at >= t), None)

    def messages(self, event: str) -> list[dict[str, Any]]:
        return [r.message for r in self.received if r.message.get("event") == event]

    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError("fake carrier: condition not met in time")
            await asyncio.sleep(0.005)
        return value

    def _queue_audio(self, nbytes: int, bytes_per_ms: float) -> None:
        now = time.monotonic()
        self._play_end = max(now, self._play_end) + nbytes / bytes_per_ms / 1000

    def _queue_mark(self, name: str) -> None:
        delay = max(0.0, self._play_end - time.monotonic())
        loop = asyncio.get_running_loop()
        self._pending_marks[name] = loop.call_later(delay, self._mark_played, name)

    def _mark_played(self, name: str) -> None:
        if self._pending_marks.pop(name, None) is not None:
            self.marks.append(MarkEcho(name, time.monotonic(), cleared=False))
            asyncio.ensure_future(self._send_quietly(self._mark_message(name)))

    def _clear(self) -> list[str]:
        now = time.monotonic()
        self.clears.append(now)
        self.cleared_ms += max(0.0, self._play_end - now) * 1000
        self._play_end = now
        names = list(self._pending_marks)
        for handle in self._pending_marks.values():
            handle.cancel()
        self._pending_marks.clear()
        return names

    # --- wire ---------------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None, "connect() first"
        await self.ws.send(json.dumps(message))

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._send(message)

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                at = time.monotonic()
                try:
                    message = json.loads(raw)
                except ValueError:
                    self.protocol_errors.append(f"malformed JSON: {raw[:100]!r}")
                    continue
                self.received.append(Received(at, message))
                await self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed_at = time.monotonic()

    # Subclasses: the carrier's dialect.
    async def _open(self) -> None:
        raise NotImplementedError

    def _media_message(self, payload: str, nbytes: int) -> dict[str, Any]:
        raise NotImplementedError

    def _mark_message(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _on_message(self, message: dict[str, Any]) -> None:
        raise NotImplementedError


class TwilioMediaClient(CarrierMediaClient):
    """Twilio Media Streams, bidirectional (``<Connect><Stream>``)."""

    def __init__(
        self,
        url: str,
        *,
        call_sid: str | None = None,
        stream_sid: str | None = None,
        account_sid: str = "AC" + "0" * 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, **kwargs)
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.stream_sid = stream_sid or "MZ" + uuid.uuid4().hex
        self.account_sid = account_sid
        self._chunk = 0

    async def _open(self) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "sequenceNumber": str(next(self._seq)),
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.custom_parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )

    def _media_message(self, payload: str, nbytes: int) -> dict[str, Any]:
        timestamp = self._chunk * self.frame_ms
        self._chunk += 1
        return {
            "event": "media",
            "sequenceNumber": str(next(self._seq)),
            "streamSid": self.stream_sid,
            "media": {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(timestamp),
                "payload": payload,
            },
        }

    def _mark_message(self, name: str) -> dict[str, Any]:
        return {
            "event": "mark",
            "sequenceNumber": str(next(self._seq)),
            "streamSid": self.stream_sid,
            "mark": {"name": name},
        }

    async def send_dtmf(self, digit: str) -> None:
        await self._send(
            {
                "event": "dtmf",
                "sequenceNumber": str(next(self._seq)),
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def hangup(self) -> None:
        """The call ended: ``stop``, then Twilio closes the socket."""
        await self._send(
            {
                "event": "stop",
                "sequenceNumber": str(next(self._seq)),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )
        await self.close()

    async def _on_message(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event not in ("media", "mark", "clear"):
            self.protocol_errors.append(f"31924 unexpected event {event!r}")
            return
        if message.get("streamSid") != self.stream_sid:
            self.protocol_errors.append(f"wrong streamSid {message.get('streamSid')!r}")
            return
        if event == "media":
            try:
                audio = base64.b64decode(message["media"]["payload"], validate=True)
            except (KeyError, TypeError, ValueError):
                self.protocol_errors.append("media without a valid base64 payload")
                return
            self.media.append((self.received[-1].at, len(audio)))
            self.audio_received += audio
            self._queue_audio(len(audio), 8)
        elif event == "mark":
            self._queue_mark(message["mark"]["name"])
        else:
            for name in self._clear():
                if self.echo_marks_on_clear:
                    self.marks.append(MarkEcho(name, time.monotonic(), cleared=True))
                    await self._send_quietly(self._mark_message(name))


class PlivoMediaClient(CarrierMediaClient):
    """Plivo Audio Streams, bidirectional, ``contentType="audio/x-mulaw;rate=8000"``."""

    # Plivo documents ``clearedAudio`` but not what happens to pending checkpoints.
    echo_marks_on_clear = False

    def __init__(
        self,
        url: str,
        *,
        call_id: str | None = None,
        stream_id: str | None = None,
        account_id: str = "MA" + "0" * 18,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, **kwargs)
        self.call_id = call_id or str(uuid.uuid4())
        self.stream_id = stream_id or str(uuid.uuid4())
        self.account_id = account_id
        self.extra_headers = ";".join(f"{k}={v}" for k, v in self.custom_parameters.items())
        self._chunk = 0

    async def _open(self) -> None:
        await self._send(
            {
                "event": "start",
                "sequenceNumber": next(self._seq),
                "start": {
                    "callId": self.call_id,
                    "streamId": self.stream_id,
                    "accountId": self.account_id,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
                },
                "extra_headers": self.extra_headers,
            }
        )

    def _media_message(self, payload: str, nbytes: int) -> dict[str, Any]:
        self._chunk += 1
        return {
            "event": "media",
            "sequenceNumber": next(self._seq),
            "streamId": self.stream_id,
            "media": {
                "track": "inbound",
                "timestamp": str(int(time.time() * 1000)),
                "chunk": self._chunk,
                "payload": payload,
            },
            "extra_headers": self.extra_headers,
        }

    def _mark_message(self, name: str) -> dict[str, Any]:
        return {"event": "playedStream", "streamId": self.stream_id, "name": name}

    async def send_dtmf(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamId": self.stream_id, "dtmf": {"digit": digit}})

    async def hangup(self) -> None:
        """Plivo documents no ``stop`` event: the socket just closes."""
        await self.close()

    async def _on_message(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "playAudio":
            media = message.get("media") or {}
            content_type = media.get("contentType", "")
            rate = int(media.get("sampleRate") or 8000)
            try:
                audio = base64.b64decode(media["payload"], validate=True)
            except (KeyError, TypeError, ValueError):
                self.protocol_errors.append("playAudio without a valid base64 payload")
                return
            if content_type == "audio/x-mulaw" and rate == 8000:
                bytes_per_ms = 8.0
                self.audio_received += audio
            elif content_type == "audio/x-l16" and rate in (8000, 16000):
                bytes_per_ms = 2 * rate / 1000
                self.audio_received += pcm16_to_mulaw(audio[: len(audio) & ~1])[:: rate // 8000]
            else:
                self.protocol_errors.append(f"unsupported playAudio format {content_type} {rate}")
                return
            self.media.append((self.received[-1].at, len(audio)))
            self._queue_audio(len(audio), bytes_per_ms)
        elif event == "checkpoint":
            self._queue_mark(message.get("name", ""))
        elif event == "clearAudio":
            for name in self._clear():
                if self.echo_marks_on_clear:
                    self.marks.append(MarkEcho(name, time.monotonic(), cleared=True))
                    await self._send_quietly(self._mark_message(name))
            await self._send_quietly(
                {
                    "event": "clearedAudio",
                    "streamId": self.stream_id,
                    "sequenceNumber": next(self._seq),
                }
            )
        elif event == "sendDTMF":
            pass
        else:
            self.protocol_errors.append(f"unexpected event {event!r}")
