"""Helpers shared by the RealtimeSession tests that drive a provider fake with carrier audio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from agents.realtime.audio import pcm16_to_mulaw
from agents.realtime.base import RealtimeEvent, RealtimeSession
from tests.fakes.voice_socket import tone

FRAME = 160  # 20 ms of mu-law 8 kHz, what carriers send


def mulaw_tone(ms: int, *, amplitude: int = 6000, freq: float = 440.0) -> bytes:
    return pcm16_to_mulaw(tone(ms, rate=8000, freq=freq, amplitude=amplitude))


def mulaw_silence(ms: int) -> bytes:
    return b"\xff" * (8 * ms)


def frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME] for i in range(0, len(audio), FRAME)]


def dominant_hz(pcm16: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(samples)


async def collect_until(
    stream: AsyncIterator[RealtimeEvent], kind: type, *, timeout: float = 5.0
) -> list[RealtimeEvent]:
    """Events up to and including the first instance of ``kind``."""
    seen: list[RealtimeEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream:
            seen.append(event)
            if isinstance(event, kind):
                return seen
    raise AssertionError(f"stream ended before {kind.__name__}: {seen!r}")


async def speak(session: RealtimeSession, ms: int = 300) -> None:
    """The caller says something, then is quiet long enough for the fake's VAD to end the turn."""
    for frame in frames(mulaw_tone(ms) + mulaw_silence(300)):
        await session.send_audio(frame)
